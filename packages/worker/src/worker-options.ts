import type Docker from 'dockerode';
import type { Logger } from 'pino';

export interface WorkerOptions {
  /** The manager's gRPC address, `host:port` (mutual TLS). */
  manager: string;
  /** The join token, for a first start (later starts use the certificate kept in `dataDir`). */
  token?: string;
  /** The node's key, certificate and pinned CA. */
  dataDir: string;
  /** Gives up a start still waiting to join. */
  signal?: AbortSignal;
  /** Node name; default the host name. The same name after a restart is the same node. */
  name?: string;
  logger: Logger;
  /** How to reach Docker; default the local socket (DOCKER_HOST is honoured by dockerode). */
  docker?: Docker.DockerOptions;
  /** Full look at the node's containers, for events missed; default 10 s. */
  sweepIntervalMs?: number;
  /** Exec probes running at once across the worker; default 8. */
  execConcurrency?: number;
  /** HTTP address of /health, /health/ready, /liveness, /metrics; default 127.0.0.1:0 (any port). */
  http?: string;
  /** gRPC address of grpc.health.v1 (Check, Watch); default 127.0.0.1:0 (any port). */
  grpc?: string;
  /** Where the proxy accepts connections for published ports (`--ingress-addr`); default 0.0.0.0. */
  ingressAddr?: string;
  /**
   * The address other nodes' proxies reach this node's published tasks at (`--advertise-addr`);
   * default the address this host uses to reach the manager.
   */
  advertiseAddr?: string;
  /**
   * The node's addresses for service names (`--vip-range`, IPv4 CIDR): its DNS server at the
   * first, its services' virtual IPs after it; default 198.18.0.0/20. Two workers on one host
   * need two ranges.
   */
  vipRange?: string;
  /** Where names that are not services are resolved (`--dns-upstream`, `ip[:port]`); default the host's. */
  dnsUpstreams?: string[];
}

export type WorkerState = 'connecting' | 'running' | 'stopping' | 'stopped';
