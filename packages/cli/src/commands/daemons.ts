import { Command } from 'commander';
import { ValidationError, parseDuration } from '@warren/core';
import { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS } from '@warren/api';
import { parseCount } from '../numbers.js';
import { DEFAULT_DRAIN_TIMEOUT, DEFAULT_INGRESS_ADDR, ingressOptions, parseDrainTimeout } from '../daemon-flags.js';
import { managerAddress } from '../context.js';
import { CliError } from '../errors.js';

const DEFAULT_DATA_DIR = './.warren';
/** A free port on loopback, whichever: where a worker serves its own endpoints by default. */
const ANY_LOCAL_PORT = '127.0.0.1:0';
const HTTP_ENDPOINTS = '/health, /health/ready, /liveness, /metrics';
const INGRESS_ADDR = 'where the proxy accepts connections for published ports';
const ADVERTISE_ADDR =
  "the address other nodes reach this node's published tasks at (default: the one it reaches the manager from)";
const DRAIN_TIMEOUT = 'how long a task being stopped waits for every proxy to stop sending it connections';

// The daemons' code (LevelDB, dockerode, pino) is imported only when a daemon starts, so the
// client commands stay quick to load.

interface UpOptions {
  dataDir: string;
  listen: string;
  name?: string;
  http: string;
  workerHttp: string;
  workerGrpc: string;
  ingressAddr: string;
  advertiseAddr?: string;
  drainTimeout: string;
}

export function upCommand(): Command {
  return new Command('up')
    .description('run a manager and a local worker in one process (the embedded single-node cluster)')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option('--listen <addr>', 'gRPC address for the CLI and workers', DEFAULT_MANAGER_ADDRESS)
    .option('--name <name>', 'name of the local worker node (default: the host name)')
    .option('--http <addr>', `HTTP address of the manager's ${HTTP_ENDPOINTS}`, DEFAULT_MANAGER_HTTP_ADDRESS)
    .option('--worker-http <addr>', "HTTP address of the local worker's endpoints (port 0: any)", ANY_LOCAL_PORT)
    .option('--worker-grpc <addr>', "gRPC address of the local worker's grpc.health.v1 (port 0: any)", ANY_LOCAL_PORT)
    .option('--ingress-addr <ip>', INGRESS_ADDR, DEFAULT_INGRESS_ADDR)
    .option('--advertise-addr <ip>', ADVERTISE_ADDR)
    .option('--drain-timeout <duration>', DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT)
    .action(async (o: UpOptions) => {
      const drainTimeoutMs = parseDrainTimeout(o.drainTimeout);
      const ingress = ingressOptions(o);
      const { createLogger, runUntilSignal, startOn } = await import('../daemon.js');
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
        const manager = await Manager.start({ dataDir, listen, logger, http, drainTimeoutMs });
        announce(logger, manager.address, manager.token);
        try {
          const worker = await Worker.start({
            manager: manager.address,
            token: manager.token,
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
        await worker.stop();
        await manager.stop();
      });
    });
}

interface ManagerCommandOptions {
  dataDir: string;
  listen: string;
  heartbeatInterval: string;
  nodeDownAfter: string;
  http: string;
  drainTimeout: string;
}

export function managerCommand(): Command {
  return new Command('manager')
    .description('run a manager: desired state, scheduling and the reconciler')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option('--listen <addr>', 'gRPC address for the CLI and workers', DEFAULT_MANAGER_ADDRESS)
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
      const { createLogger, runUntilSignal, startOn } = await import('../daemon.js');
      const { Manager } = await import('@warren/manager');
      const logger = createLogger();
      const { dataDir, listen, http } = o;
      const options = { dataDir, listen, http, logger, heartbeatIntervalMs, nodeDownAfter, drainTimeoutMs };
      const manager = await startOn({ '--listen': listen, '--http': http }, () => Manager.start(options));
      announce(logger, manager.address, manager.token);
      await runUntilSignal(logger, () => manager.stop());
    });
}

interface WorkerCommandOptions {
  manager?: string;
  token?: string;
  name?: string;
  http: string;
  grpc: string;
  ingressAddr: string;
  advertiseAddr?: string;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description("run a worker agent: runs its tasks' containers through the local Docker engine")
    .option('--manager <addr>', `manager address (default: WARREN_MANAGER or ${DEFAULT_MANAGER_ADDRESS})`)
    .option('--token <token>', 'the join token the manager printed (or WARREN_TOKEN)')
    .option('--name <name>', 'node name (default: the host name)')
    .option('--http <addr>', `HTTP address of ${HTTP_ENDPOINTS} (port 0: any)`, ANY_LOCAL_PORT)
    .option('--grpc <addr>', 'gRPC address of grpc.health.v1 (port 0: any)', ANY_LOCAL_PORT)
    .option('--ingress-addr <ip>', INGRESS_ADDR, DEFAULT_INGRESS_ADDR)
    .option('--advertise-addr <ip>', ADVERTISE_ADDR)
    .action(async (o: WorkerCommandOptions, cmd: Command) => {
      const token = o.token ?? process.env.WARREN_TOKEN;
      if (!token) throw new CliError('--token is required: the join token the manager printed at start', 2);
      const ingress = ingressOptions(o);
      const { createLogger, runUntilSignal, startOn } = await import('../daemon.js');
      const { Worker } = await import('@warren/worker');
      const logger = createLogger();
      const options = {
        manager: o.manager ?? managerAddress(cmd),
        token,
        logger,
        http: o.http,
        grpc: o.grpc,
        ...ingress,
        ...(o.name ? { name: o.name } : {}),
      };
      const worker = await startOn({ '--http': o.http, '--grpc': o.grpc }, () => Worker.start(options));
      await runUntilSignal(logger, () => worker.stop());
    });
}

function announce(logger: import('pino').Logger, address: string, token: string): void {
  const command = `warren worker --manager ${address} --token ${token}`;
  logger.info({ component: 'manager', address, joinToken: token }, `workers join with: ${command}`);
}
