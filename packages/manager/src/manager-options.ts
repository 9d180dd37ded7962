import type { Logger } from 'pino';
import type { StateOptions } from './state-open.js';

export interface ManagerOptions {
  /** LevelDB state lives in `<dataDir>/store`; the CA in `<dataDir>/certs`. */
  dataDir: string;
  /** `etcd://h1:2379,h2:2379,h3:2379` (`--store`): managers share state in etcd, one leads. Default: LevelDB. */
  store?: string;
  /** TLS to etcd (`--etcd-cacert`, `--etcd-cert`, `--etcd-key`). */
  etcdTls?: StateOptions['etcdTls'];
  /** `--token`: join the managers of a cluster on etcd (`warren join-token manager`). */
  token?: string;
  /** The leadership lease with etcd (`--leader-lease`), in seconds; default 1 (etcd may grant more). */
  leaderLeaseSec?: number;
  /** gRPC address (TLS) for workers and remote CLIs; default DEFAULT_MANAGER_ADDRESS (port 0: any free port). */
  listen?: string;
  /** The local CLI's Unix socket; default `<dataDir>/warren.sock`. */
  socket?: string;
  /** Validity of the node and client certificates the CA issues (`--cert-expiry`); default 90 days. */
  certExpiryMs?: number;
  logger: Logger;
  /** How often workers heartbeat; default 1 s. */
  heartbeatIntervalMs?: number;
  /** Heartbeats missed in a row after which a node is down; default 3. */
  nodeDownAfter?: number;
  /** Safety pass of the reconciler; default 1 s (it also runs on every change). */
  reconcileIntervalMs?: number;
  /** HTTP address of /health, /health/ready, /liveness, /metrics; default DEFAULT_MANAGER_HTTP_ADDRESS. */
  http?: string;
  /**
   * Before a task with published ports is stopped, how long to wait at most for every connected
   * proxy to confirm it no longer sends it connections (`--drain-timeout`); default 2 s.
   */
  drainTimeoutMs?: number;
  now?: () => number;
}
