import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '@warren/core';
import {
  DEFAULT_MANAGER_ADDRESS,
  DEFAULT_MANAGER_HTTP_ADDRESS,
  DaemonHttp,
  VERSION,
  bindServer,
  shutdownServer,
  warrenProto,
  type Component,
} from '@warren/api';
import { controlServiceHandlers } from './control-service.js';
import { HealthIngest } from './health-ingest.js';
import { managerMetrics } from './metrics.js';
import { newId, newJoinToken } from './ids.js';
import { NodeMonitor } from './node-monitor.js';
import { ImageQueries } from './image-queries.js';
import { NodeSessions } from './node-sessions.js';
import { ReconcilerLoop } from './reconciler-loop.js';
import { Store, type Change } from './store.js';
import { IngressTables } from './ingress.js';
import { TaskDispatch } from './task-dispatch.js';
import { workerServiceHandlers } from './worker-service.js';

export interface ManagerOptions {
  /** State lives in `<dataDir>/store`. */
  dataDir: string;
  /** gRPC address for the CLI and workers; default DEFAULT_MANAGER_ADDRESS (port 0: any free port). */
  listen?: string;
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

export type ManagerState = 'running' | 'stopping' | 'stopped';

export class Manager {
  #state: ManagerState = 'running';
  readonly #abort = new AbortController();

  private constructor(
    /** `host:port` actually bound. */
    readonly address: string,
    /** The join token workers must present. */
    readonly token: string,
    private readonly server: grpc.Server,
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    readonly reconciler: ReconcilerLoop,
    private readonly logger: Logger,
    private readonly grpcHealth: HealthImplementation,
    /** The HTTP endpoints. */
    readonly http: DaemonHttp,
  ) {}

  static async start(options: ManagerOptions): Promise<Manager> {
    const logger = options.logger.child({ component: 'manager' });
    const now = options.now ?? Date.now;
    const storeDir = join(options.dataDir, 'store');
    // Only the owner reads the store: it holds the join token and registry credentials.
    await mkdir(storeDir, { recursive: true, mode: 0o700 });
    await chmod(storeDir, 0o700);
    const store = await Store.open(storeDir).catch((err: unknown) => {
      throw new FailedPreconditionError(
        `cannot open the store in ${storeDir} (is another manager using this data dir?): ${(err as Error).message}`,
      );
    });
    let token = store.meta('join-token');
    if (token === undefined) {
      const fresh = newJoinToken();
      await store.mutate(() => ({
        changes: [{ kind: 'putMeta', key: 'join-token', value: fresh }],
        result: undefined,
      }));
      token = fresh;
    }

    const sessions = new NodeSessions(now, options.heartbeatIntervalMs ?? 1000, options.nodeDownAfter ?? 3);
    const reconciler = new ReconcilerLoop(
      store,
      sessions,
      now,
      newId,
      options.logger.child({ component: 'reconciler' }),
    );
    const health = new HealthIngest(store, now, options.logger.child({ component: 'health' }));
    const startedAt = now();
    const monitor = new NodeMonitor(
      store,
      sessions,
      now,
      startedAt,
      () => reconciler.trigger(),
      options.logger.child({ component: 'nodes' }),
    );
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    const graceMs = heartbeatIntervalMs * (options.nodeDownAfter ?? 3);
    const ingressLogger = options.logger.child({ component: 'ingress' });
    const ingress = new IngressTables(store, sessions, now, ingressLogger, now() + graceMs);
    const dispatch = new TaskDispatch(
      store,
      sessions,
      ingress,
      options.drainTimeoutMs ?? 2000,
      options.logger.child({ component: 'drain' }),
    );
    dispatch.resume(graceMs);
    const streams = { health: 0 };
    const imageQueries = new ImageQueries(sessions);
    // Keepalive pings end the streams of a worker that vanished without a FIN (a cut network).
    const server = new grpc.Server({ 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 });
    // grpc.health.v1 on the gRPC port, following the daemon's own health.
    const grpcHealth = new HealthImplementation({
      '': 'SERVING',
      'warren.v1.ControlService': 'SERVING',
      'warren.v1.WorkerService': 'SERVING',
    });
    grpcHealth.addToServer(server);
    const proto = warrenProto();
    server.addService(
      proto.ControlService.service,
      controlServiceHandlers({
        store,
        sessions,
        now,
        newId,
        startedAt,
        imageQueries,
        ingress,
        logger: options.logger.child({ component: 'control' }),
      }),
    );
    server.addService(
      proto.WorkerService.service,
      workerServiceHandlers({
        store,
        sessions,
        token,
        now,
        newId,
        onNodeChange: () => {
          reconciler.trigger();
          ingress.nodeChanged();
        },
        onConnect: () => monitor.check(),
        ingress,
        dispatch,
        health,
        imageQueries,
        streams,
        logger: options.logger.child({ component: 'workers' }),
      }),
    );

    const listen = options.listen ?? DEFAULT_MANAGER_ADDRESS;
    let port: number;
    try {
      port = await bindServer(server, listen);
    } catch (err) {
      await store.close();
      throw new FailedPreconditionError(`cannot listen on ${listen}: ${(err as Error).message}`, { cause: err });
    }
    const address = `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    const intervalMs = options.reconcileIntervalMs ?? 1000;
    const components: Component[] = [
      {
        name: 'store',
        critical: true,
        check: async () => {
          await store.check();
          return { status: 'healthy', message: 'LevelDB write and read back' };
        },
      },
      {
        name: 'reconciler',
        critical: true,
        check: async () => {
          const age = now() - (reconciler.lastPassAt || startedAt);
          return age <= intervalMs * 5
            ? { status: 'healthy', message: `last pass ${age} ms ago` }
            : { status: 'unhealthy', message: `no pass for ${age} ms` };
        },
      },
      {
        name: 'workers',
        critical: false,
        check: async () => {
          const ready = [...store.nodes()].filter((n) => sessions.isReady(n.id)).length;
          return ready > 0
            ? { status: 'healthy', message: `${ready} ready` }
            : { status: 'degraded', message: 'no worker connected: nothing can be scheduled' };
        },
      },
    ];
    const httpListen = options.http ?? DEFAULT_MANAGER_HTTP_ADDRESS;
    let http: DaemonHttp;
    try {
      http = await DaemonHttp.start({
        listen: httpListen,
        version: VERSION,
        components,
        registry: managerMetrics({ store, sessions, health, reconciler, streams, ingress, dispatch }),
        onStatus: (status) => grpcHealth.setStatus('', status === 'unhealthy' ? 'NOT_SERVING' : 'SERVING'),
      });
    } catch (err) {
      server.forceShutdown();
      await store.close();
      throw new FailedPreconditionError(`cannot serve HTTP on ${httpListen}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const manager = new Manager(address, token, server, store, sessions, reconciler, logger, grpcHealth, http);
    store.onCommit((changes) => {
      dispatch.push(changes);
      if (changes.some(movesIngress)) ingress.schedule();
      // Health records alone change no decision; a task failed by its health check does.
      if (changes.some((c) => c.kind !== 'putHealth')) reconciler.trigger();
    });
    reconciler.run(intervalMs, manager.#abort.signal);
    monitor.run(manager.#abort.signal);
    reconciler.trigger();
    logger.info(
      {
        address,
        http: http.address,
        dataDir: options.dataDir,
        services: [...store.services()].length,
        tasks: [...store.tasks()].length,
      },
      'manager started',
    );
    return manager;
  }

  get state(): ManagerState {
    return this.#state;
  }

  /** Stops serving (running calls get `graceMs`), stops the loops, closes the store. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.logger.info('manager stopping');
    for (const service of ['', 'warren.v1.ControlService', 'warren.v1.WorkerService'])
      this.grpcHealth.setStatus(service, 'NOT_SERVING');
    this.#abort.abort();
    await this.http.stop();
    this.sessions.closeAll();
    await shutdownServer(this.server, graceMs);
    await this.store.close();
    this.#state = 'stopped';
    this.logger.info('manager stopped');
  }
}

/** Changes that can move an endpoint in or out of the ingress table. */
function movesIngress(change: Change): boolean {
  return change.kind !== 'event' && change.kind !== 'putMeta' && change.kind !== 'putSlot';
}
