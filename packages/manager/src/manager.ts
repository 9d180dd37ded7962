import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '@warren/core';
import { logEvents } from './event-log.js';
import { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS, DaemonHttp, DataDirLock, VERSION } from '@warren/api';
import { ClusterPki, DEFAULT_CERT_VALIDITY_MS } from './cluster-pki.js';
import { managerComponents } from './manager-components.js';
import { ManagerServers } from './manager-servers.js';
import { controlServiceHandlers } from './control/services.js';
import { HealthIngest } from './workers/health-ingest.js';
import { managerMetrics } from './metrics.js';
import { newId } from './ids.js';
import { NodeMonitor } from './workers/node-monitor.js';
import { ImageQueries } from './control/image-queries.js';
import { NodeSessions } from './workers/node-sessions.js';
import { ReconcilerLoop } from './reconciler-loop.js';
import { StatusPages } from './status/http.js';
import { StatusStream } from './status/stream.js';
import { Store, type Change } from './store/store.js';
import { IngressTables } from './ingress/tables.js';
import { TaskDispatch } from './workers/task-dispatch.js';
import { workerServiceHandlers } from './workers/worker-service.js';

export interface ManagerOptions {
  /** State lives in `<dataDir>/store`. */
  dataDir: string;
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

export type ManagerState = 'running' | 'stopping' | 'stopped';

export class Manager {
  #state: ManagerState = 'running';
  readonly #abort = new AbortController();

  private constructor(
    /** `host:port` actually bound. */
    readonly address: string,
    /** The join token: `WRN-1-<CA hash>-<secret>` (it changes with `warren join-token --rotate`). */
    private readonly pki: ClusterPki,
    private readonly servers: ManagerServers,
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    readonly reconciler: ReconcilerLoop,
    private readonly logger: Logger,
    /** The HTTP endpoints. */
    readonly http: DaemonHttp,
    private readonly statusStream: StatusStream,
    /** This manager's claim on its data dir. */
    private readonly lock: DataDirLock,
  ) {}

  /** Starts a manager on `options.dataDir`, which no other manager may be using (a pid file). */
  static async start(options: ManagerOptions): Promise<Manager> {
    const lock = await DataDirLock.acquire(options.dataDir, 'manager');
    try {
      return await Manager.#start(options, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  static async #start(options: ManagerOptions, lock: DataDirLock): Promise<Manager> {
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
    let pki: ClusterPki;
    try {
      pki = await ClusterPki.start(options.dataDir, store, options.certExpiryMs ?? DEFAULT_CERT_VALIDITY_MS, logger);
    } catch (err) {
      await store.close();
      throw err;
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
    const statusSources = { store, sessions, ingress, now, version: VERSION };
    const statusLogger = options.logger.child({ component: 'status-page' });
    const statusStream = new StatusStream({ sources: statusSources, store, logger: statusLogger });
    let statusPages: StatusPages;
    try {
      statusPages = await StatusPages.load(statusSources, statusStream);
    } catch (err) {
      statusStream.close();
      pki.stop();
      await store.close();
      throw new FailedPreconditionError(`cannot read the status page's files: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const streams = { health: 0 };
    const imageQueries = new ImageQueries(sessions);
    const control = (local: boolean) =>
      controlServiceHandlers({
        store,
        sessions,
        now,
        newId,
        startedAt,
        imageQueries,
        ingress,
        pki,
        local,
        logger: options.logger.child({ component: 'control' }),
      });
    const worker = workerServiceHandlers({
      store,
      sessions,
      pki,
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
    });
    const listen = options.listen ?? DEFAULT_MANAGER_ADDRESS;
    const socket = options.socket ?? join(options.dataDir, 'warren.sock');
    let servers: ManagerServers;
    try {
      servers = await ManagerServers.start({ listen, socket, pki, control, worker, logger });
    } catch (err) {
      pki.stop();
      await store.close();
      if (err instanceof FailedPreconditionError) throw err;
      throw new FailedPreconditionError(`cannot listen on ${listen}: ${(err as Error).message}`, { cause: err });
    }
    const address = servers.address;
    const intervalMs = options.reconcileIntervalMs ?? 1000;
    const components = managerComponents({ store, sessions, reconciler, now, startedAt, intervalMs });
    const httpListen = options.http ?? DEFAULT_MANAGER_HTTP_ADDRESS;
    let http: DaemonHttp;
    try {
      http = await DaemonHttp.start({
        listen: httpListen,
        version: VERSION,
        components,
        registry: managerMetrics({ store, sessions, health, reconciler, streams, ingress, dispatch, statusStream }),
        pages: statusPages.handle,
        onStatus: (status) => servers.health.setStatus('', status === 'unhealthy' ? 'NOT_SERVING' : 'SERVING'),
      });
    } catch (err) {
      statusStream.close();
      servers.forceShutdown();
      pki.stop();
      await store.close();
      throw new FailedPreconditionError(`cannot serve HTTP on ${httpListen}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const parts = [pki, servers, store, sessions, reconciler, logger, http, statusStream, lock] as const;
    const manager = new Manager(address, ...parts);
    logEvents(store, options.logger.child({ component: 'events' }));
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
        socket: servers.socket,
        caHash: pki.ca.hash,
        http: http.address,
        statusPage: `http://${http.address}/`,
        dataDir: options.dataDir,
        services: [...store.services()].length,
        tasks: [...store.tasks()].length,
      },
      'manager started',
    );
    return manager;
  }

  /** The join token workers present: `WRN-1-<CA hash>-<secret>`. */
  get token(): string {
    return this.pki.joinToken;
  }

  /** The local CLI's socket, `unix:` + absolute path. */
  get socket(): string {
    return this.servers.socket;
  }

  get state(): ManagerState {
    return this.#state;
  }

  /** Stops serving (running calls get `graceMs`), stops the loops, closes the store. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.logger.info('manager stopping');
    this.#abort.abort();
    this.pki.stop();
    this.statusStream.close();
    await this.http.stop();
    this.sessions.closeAll();
    await this.servers.stop(graceMs);
    await this.store.close();
    await this.lock.release();
    this.#state = 'stopped';
    this.logger.info('manager stopped');
  }
}

/** Changes that can move an endpoint in or out of the ingress table. */
function movesIngress(change: Change): boolean {
  return change.kind !== 'event' && change.kind !== 'putMeta' && change.kind !== 'putSlot';
}
