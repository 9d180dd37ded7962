import { Command } from 'commander';
import { ValidationError, parseDuration } from '@warren/core';
import { parseCount } from '../numbers.js';
import { managerAddress } from '../context.js';
import { CliError } from '../errors.js';

const DEFAULT_DATA_DIR = './.warren';
const DEFAULT_LISTEN = '127.0.0.1:7420';

// The daemons' code (LevelDB, dockerode, pino) is imported only when a daemon starts, so the
// client commands stay quick to load.

export function upCommand(): Command {
  return new Command('up')
    .description('run a manager and a local worker in one process (the embedded single-node cluster)')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option('--listen <addr>', 'gRPC address for the CLI and workers', DEFAULT_LISTEN)
    .option('--name <name>', 'name of the local worker node (default: the host name)')
    .option('--http <addr>', "HTTP address of the manager's /health, /health/ready, /liveness, /metrics", '127.0.0.1:7421')
    .option('--worker-http <addr>', "HTTP address of the local worker's endpoints (port 0: any)", '127.0.0.1:0')
    .option('--worker-grpc <addr>', "gRPC address of the local worker's grpc.health.v1 (port 0: any)", '127.0.0.1:0')
    .action(async (o: { dataDir: string; listen: string; name?: string; http: string; workerHttp: string; workerGrpc: string }) => {
      const { createLogger, runUntilSignal } = await import('../daemon.js');
      const { Manager } = await import('@warren/manager');
      const { Worker } = await import('@warren/worker');
      const logger = createLogger();
      const manager = await Manager.start({ dataDir: o.dataDir, listen: o.listen, logger, http: o.http });
      announce(logger, manager.address, manager.token);
      let worker;
      try {
        worker = await Worker.start({ manager: manager.address, token: manager.token, logger, http: o.workerHttp, grpc: o.workerGrpc, ...(o.name ? { name: o.name } : {}) });
      } catch (err) {
        await manager.stop();
        throw err;
      }
      await runUntilSignal(logger, async () => {
        await worker.stop();
        await manager.stop();
      });
    });
}

export function managerCommand(): Command {
  return new Command('manager')
    .description('run a manager: desired state, scheduling and the reconciler')
    .option('--data-dir <dir>', 'where the manager keeps its state', DEFAULT_DATA_DIR)
    .option('--listen <addr>', 'gRPC address for the CLI and workers', DEFAULT_LISTEN)
    .option('--heartbeat-interval <duration>', 'how often workers heartbeat', '1s')
    .option('--node-down-after <n>', 'heartbeats missed in a row after which a node is down', '3')
    .option('--http <addr>', 'HTTP address of /health, /health/ready, /liveness, /metrics', '127.0.0.1:7421')
    .action(async (o: { dataDir: string; listen: string; heartbeatInterval: string; nodeDownAfter: string; http: string }) => {
      const heartbeatIntervalMs = parseDuration(o.heartbeatInterval, '--heartbeat-interval');
      if (heartbeatIntervalMs < 50) throw new ValidationError('--heartbeat-interval', o.heartbeatInterval, 'must be at least 50ms');
      const nodeDownAfter = parseCount('--node-down-after', o.nodeDownAfter);
      if (nodeDownAfter < 1) throw new ValidationError('--node-down-after', nodeDownAfter, 'must be at least 1');
      const { createLogger, runUntilSignal } = await import('../daemon.js');
      const { Manager } = await import('@warren/manager');
      const logger = createLogger();
      const manager = await Manager.start({ dataDir: o.dataDir, listen: o.listen, logger, heartbeatIntervalMs, nodeDownAfter, http: o.http });
      announce(logger, manager.address, manager.token);
      await runUntilSignal(logger, () => manager.stop());
    });
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run a worker agent: runs its tasks\' containers through the local Docker engine')
    .option('--manager <addr>', 'manager address (default: WARREN_MANAGER or 127.0.0.1:7420)')
    .option('--token <token>', 'the join token the manager printed (or WARREN_TOKEN)')
    .option('--name <name>', 'node name (default: the host name)')
    .option('--http <addr>', 'HTTP address of /health, /health/ready, /liveness, /metrics (port 0: any)', '127.0.0.1:0')
    .option('--grpc <addr>', 'gRPC address of grpc.health.v1 (port 0: any)', '127.0.0.1:0')
    .action(async (o: { manager?: string; token?: string; name?: string; http: string; grpc: string }, cmd: Command) => {
      const token = o.token ?? process.env.WARREN_TOKEN;
      if (!token) throw new CliError('--token is required: the join token the manager printed at start', 2);
      const { createLogger, runUntilSignal } = await import('../daemon.js');
      const { Worker } = await import('@warren/worker');
      const logger = createLogger();
      const worker = await Worker.start({ manager: o.manager ?? managerAddress(cmd), token, logger, http: o.http, grpc: o.grpc, ...(o.name ? { name: o.name } : {}) });
      await runUntilSignal(logger, () => worker.stop());
    });
}

function announce(logger: import('pino').Logger, address: string, token: string): void {
  logger.info({ component: 'manager', address, joinToken: token }, `workers join with: warren worker --manager ${address} --token ${token}`);
}
