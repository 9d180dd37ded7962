import { Command } from 'commander';
import { ValidationError, parseDuration, parseStoreUrl } from '@warren/core';
import { join } from 'node:path';
import { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS, parseJoinToken } from '@warren/api/light';
import { parseCount } from '../numbers.js';
import { managerListCommand } from './managers.js';
import { DEFAULT_DRAIN_TIMEOUT, addFrontOptions, frontOptions, parseDrainTimeout } from '../daemon-flags.js';
import type { LeftRunning } from '@warren/worker';
const DEFAULT_DATA_DIR = './.warren';
const DEFAULT_WORKER_DATA_DIR = './.warren/worker';
/** As Swarm's default node certificate expiry. */
const DEFAULT_CERT_EXPIRY = '2160h';
const CERT_EXPIRY = 'validity of the node and client certificates the cluster CA issues (they renew at 50-80 %)';
const SOCKET = "the local CLI's Unix socket, only the owner can use it (default: <data-dir>/warren.sock)";
const LISTEN = 'gRPC address (TLS, the cluster CA) for workers and remote CLIs';
/** A free port on loopback, whichever: where a worker serves its own endpoints by default. */
const ANY_LOCAL_PORT = '127.0.0.1:0';
const HTTP_ENDPOINTS = '/health, /health/ready, /liveness, /metrics';
const DRAIN_TIMEOUT = 'how long a task being stopped waits for every proxy to stop sending it connections';

// The daemons' code (LevelDB, dockerode, pino) is imported only when a daemon starts, so the
// client commands stay quick to load; by its package name, so that the bundled CLI (dist/warren.cjs)
// loads it as it is, with the same @warren/api and grpc-js as the manager and the worker.

interface UpOptions {
  dataDir: string;
  listen: string;
  name?: string;
  http: string;
  workerHttp: string;
  workerGrpc: string;
  ingressAddr: string;
  advertiseAddr?: string;
  vipRange?: string;
  dnsUpstream?: string[];
  drainTimeout: string;
  socket?: string;
  certExpiry: string;
}

export function upCommand(): Command {
  const up = new Command('up')
    .description('run a manager and a local worker in one process (the embedded single-node cluster)')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option('--listen <addr>', LISTEN, DEFAULT_MANAGER_ADDRESS)
    .option('--socket <path>', SOCKET)
    .option('--cert-expiry <duration>', CERT_EXPIRY, DEFAULT_CERT_EXPIRY)
    .option('--name <name>', 'name of the local worker node (default: the host name)')
    .option('--http <addr>', `HTTP address of the manager's ${HTTP_ENDPOINTS}`, DEFAULT_MANAGER_HTTP_ADDRESS)
    .option('--worker-http <addr>', "HTTP address of the local worker's endpoints (port 0: any)", ANY_LOCAL_PORT)
    .option('--worker-grpc <addr>', "gRPC address of the local worker's grpc.health.v1 (port 0: any)", ANY_LOCAL_PORT);
  return addFrontOptions(up)
    .option('--drain-timeout <duration>', DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT)
    .action(async (o: UpOptions) => {
      const drainTimeoutMs = parseDrainTimeout(o.drainTimeout);
      const certExpiryMs = parseDuration(o.certExpiry, '--cert-expiry');
      const ingress = frontOptions(o);
      const { createLogger, runUntilSignal, startOn } = await import('@warren/cli/daemon');
      const { Manager } = await import('@warren/manager');
      const { Worker } = await import('@warren/worker');
      const logger = createLogger();
      const flags = {
        '--listen': o.listen,
        '--http': o.http,
        '--worker-http': o.workerHttp,
        '--worker-grpc': o.workerGrpc,
      };
      const { manager, worker } = await startOn(flags, async () => {
        const { dataDir, listen, http } = o;
        const socket = o.socket ? { socket: o.socket } : {};
        const manager = await Manager.start({
          dataDir,
          listen,
          logger,
          http,
          drainTimeoutMs,
          certExpiryMs,
          ...socket,
        });
        announce(logger, manager);
        try {
          // The local worker joins like any other, its certificate kept next to the manager's data.
          const worker = await Worker.start({
            manager: manager.address,
            token: manager.token,
            dataDir: join(dataDir, 'worker'),
            logger,
            http: o.workerHttp,
            grpc: o.workerGrpc,
            ...ingress,
            ...(o.name ? { name: o.name } : {}),
          });
          return { manager, worker };
        } catch (err) {
          await manager.stop();
          throw err;
        }
      });
      await runUntilSignal(logger, async () => {
        const left = await worker.stop();
        await manager.stop();
        sayLeftRunning(logger, left, 'up');
      });
    });
}

interface ManagerCommandOptions {
  dataDir: string;
  store?: string;
  token?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  leaderLease: string;
  listen: string;
  heartbeatInterval: string;
  nodeDownAfter: string;
  http: string;
  drainTimeout: string;
  socket?: string;
  certExpiry: string;
}

export function managerCommand(): Command {
  const manager = new Command('manager');
  manager.addCommand(managerListCommand());
  return manager
    .description('run a manager: desired state, scheduling and the reconciler (warren manager ls: the managers)')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option(
      '--store <url>',
      'etcd://host:port[,host:port…]: several managers share the state in etcd, one leads ' +
        '(default: LevelDB in the data dir)',
    )
    .option('--token <token>', 'with --store: join the managers of that cluster (warren join-token manager)')
    .option('--etcd-cacert <file>', "with --store: TLS to etcd, its CA's certificate")
    .option('--etcd-cert <file>', "with --store: TLS to etcd, this manager's client certificate")
    .option('--etcd-key <file>', "with --store: TLS to etcd, that certificate's key")
    .option(
      '--leader-lease <duration>',
      'with --store: the leadership lease; a successor leads about this long after the leader is gone ' +
        '(etcd may grant more)',
      '1s',
    )
    .option('--listen <addr>', LISTEN, DEFAULT_MANAGER_ADDRESS)
    .option('--socket <path>', SOCKET)
    .option('--cert-expiry <duration>', CERT_EXPIRY, DEFAULT_CERT_EXPIRY)
    .option('--heartbeat-interval <duration>', 'how often workers heartbeat', '1s')
    .option('--node-down-after <n>', 'heartbeats missed in a row after which a node is down', '3')
    .option('--http <addr>', `HTTP address of ${HTTP_ENDPOINTS}`, DEFAULT_MANAGER_HTTP_ADDRESS)
    .option('--drain-timeout <duration>', DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT)
    .action(async (o: ManagerCommandOptions) => {
      const heartbeatIntervalMs = parseDuration(o.heartbeatInterval, '--heartbeat-interval');
      if (heartbeatIntervalMs < 50) {
        throw new ValidationError('--heartbeat-interval', o.heartbeatInterval, 'must be at least 50ms');
      }
      const nodeDownAfter = parseCount('--node-down-after', o.nodeDownAfter);
      if (nodeDownAfter < 1) throw new ValidationError('--node-down-after', nodeDownAfter, 'must be at least 1');
      const drainTimeoutMs = parseDrainTimeout(o.drainTimeout);
      const certExpiryMs = parseDuration(o.certExpiry, '--cert-expiry');
      const store = storeFlags(o);
      const { createLogger, runUntilSignal, startOn } = await import('@warren/cli/daemon');
      const { Manager } = await import('@warren/manager');
      const logger = createLogger();
      const { dataDir, listen, http } = o;
      const options = {
        ...{ dataDir, listen, http, logger, heartbeatIntervalMs, nodeDownAfter, drainTimeoutMs, certExpiryMs },
        ...(o.socket ? { socket: o.socket } : {}),
        ...store,
      };
      const manager = await startOn({ '--listen': listen, '--http': http }, () => Manager.start(options));
      announce(logger, manager);
      await runUntilSignal(logger, () => manager.stop());
    });
}

interface WorkerCommandOptions {
  token?: string;
  dataDir: string;
  name?: string;
  http: string;
  grpc: string;
  ingressAddr: string;
  advertiseAddr?: string;
  vipRange?: string;
  dnsUpstream?: string[];
}

export function workerCommand(): Command {
  const worker = new Command('worker')
    .description("run a worker agent: runs its tasks' containers through the local Docker engine")
    .option('--manager <addr>', `the manager's TLS address (default: WARREN_MANAGER or ${DEFAULT_MANAGER_ADDRESS})`)
    .option('--token <token>', 'the join token (or WARREN_TOKEN): needed to join, not to restart a joined worker')
    .option(
      '--data-dir <dir>',
      "where the node keeps its key, certificate and the cluster's CA",
      DEFAULT_WORKER_DATA_DIR,
    )
    .option('--name <name>', 'node name (default: the host name)')
    .option('--http <addr>', `HTTP address of ${HTTP_ENDPOINTS} (port 0: any)`, ANY_LOCAL_PORT)
    .option('--grpc <addr>', 'gRPC address of grpc.health.v1 (port 0: any)', ANY_LOCAL_PORT);
  return addFrontOptions(worker).action(async (o: WorkerCommandOptions, cmd: Command) => {
    // `--manager` is also the CLI's global flag: take it from wherever commander put it.
    const manager =
      cmd.optsWithGlobals<{ manager?: string }>().manager ?? process.env.WARREN_MANAGER ?? DEFAULT_MANAGER_ADDRESS;
    if (manager.startsWith('unix:')) {
      throw new ValidationError('--manager', manager, "a worker reaches the manager's TLS address, HOST:PORT");
    }
    const ingress = frontOptions(o);
    const token = o.token ?? process.env.WARREN_TOKEN;
    if (token !== undefined) parseJoinToken(token);
    const { createLogger, runUntilSignal, startOn } = await import('@warren/cli/daemon');
    const { Worker } = await import('@warren/worker');
    const logger = createLogger();
    const options = {
      manager,
      dataDir: o.dataDir,
      ...(token ? { token } : {}),
      logger,
      http: o.http,
      grpc: o.grpc,
      ...ingress,
      ...(o.name ? { name: o.name } : {}),
    };
    const worker = await startOn({ '--http': o.http, '--grpc': o.grpc }, () => Worker.start(options));
    await runUntilSignal(logger, async () => sayLeftRunning(logger, await worker.stop(), 'worker'));
  });
}

/**
 * At shutdown, what keeps running: `2 containers of 1 service keep running; the next npm start
 * adopts them; warren service rm to remove them` — keeping tasks through a daemon restart is
 * right, and a user who pressed Ctrl-C should not have to find out from `docker ps`.
 */
function sayLeftRunning(logger: import('pino').Logger, left: LeftRunning | undefined, daemon: 'up' | 'worker'): void {
  if (!left || left.containers === 0) return;
  const services = left.services.length;
  const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const what = `${plural(left.containers, 'container')} of ${plural(services, 'service')}`;
  // npm sets npm_lifecycle_event for the script it runs: `npm start` runs `warren up`.
  const again =
    daemon === 'worker'
      ? 'the next start of this worker'
      : process.env.npm_lifecycle_event === 'start'
        ? 'the next npm start'
        : 'the next warren up on this data dir';
  const [keep, them] = left.containers === 1 ? ['keeps', 'it'] : ['keep', 'them'];
  const message = `${what} ${keep} running; ${again} adopts ${them}; warren service rm to remove ${them}`;
  logger.info({ component: 'cli', containers: left.containers, services: left.services }, message);
}

/** --store and the flags that go with it, checked before anything starts (exit 2 on a bad one). */
function storeFlags(o: ManagerCommandOptions) {
  const url = parseStoreUrl(o.store);
  const onlyWithStore = (['token', 'etcdCacert', 'etcdCert', 'etcdKey'] as const).find((k) => o[k] !== undefined);
  if (!url && onlyWithStore) {
    const flag = `--${onlyWithStore.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new ValidationError(
      flag,
      '(given)',
      'goes with --store etcd://… (a single manager on LevelDB has no use for it)',
    );
  }
  if (o.token !== undefined) parseJoinToken(o.token);
  if ((o.etcdCert === undefined) !== (o.etcdKey === undefined)) {
    throw new ValidationError(
      o.etcdCert ? '--etcd-key' : '--etcd-cert',
      '(missing)',
      'give --etcd-cert and --etcd-key together',
    );
  }
  if (o.etcdCert && !o.etcdCacert) throw new ValidationError('--etcd-cacert', '(missing)', 'TLS to etcd needs its CA');
  const leaseMs = parseDuration(o.leaderLease, '--leader-lease');
  if (leaseMs < 1000 || leaseMs % 1000 !== 0) {
    throw new ValidationError('--leader-lease', o.leaderLease, 'is whole seconds, at least 1s (an etcd lease)');
  }
  return {
    ...(url ? { store: o.store! } : {}),
    ...(o.token ? { token: o.token } : {}),
    ...(o.etcdCacert
      ? { etcdTls: { ca: o.etcdCacert, ...(o.etcdCert ? { cert: o.etcdCert, key: o.etcdKey! } : {}) } }
      : {}),
    leaderLeaseSec: leaseMs / 1000,
  };
}

function announce(logger: import('pino').Logger, manager: { address: string; token: string; socket: string }): void {
  const command = `warren worker --manager ${manager.address} --token ${manager.token}`;
  const fields = { component: 'manager', address: manager.address, socket: manager.socket, joinToken: manager.token };
  logger.info(fields, `workers join with: ${command}`);
}
