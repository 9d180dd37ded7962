import { join } from 'node:path';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '@warren/core';
import {
  DEFAULT_MANAGER_ADDRESS,
  DEFAULT_MANAGER_HTTP_ADDRESS,
  DaemonHttp,
  DataDirLock,
  VERSION,
  warrenProto,
} from '@warren/api';
import { logEvents } from './event-log.js';
import { ClusterPki, DEFAULT_CERT_VALIDITY_MS } from './pki/cluster-pki.js';
import { managerComponents } from './manager-components.js';
import { ManagerServers } from './manager-servers.js';
import { controlServiceHandlers } from './control/services.js';
import { HealthIngest } from './workers/health-ingest.js';
import { managerMetrics } from './metrics.js';
import { newId } from './ids.js';
import { NodeMonitor } from './workers/node-monitor.js';
import { LogRelay } from './control/logs.js';
import { ImageQueries } from './control/image-queries.js';
import { NodeSessions } from './workers/node-sessions.js';
import { ReconcilerLoop } from './reconciler-loop.js';
import { StatusPages } from './status/http.js';
import { StatusStream } from './status/stream.js';
import type { Change } from './store/store.js';
import { IngressTables } from './ingress/tables.js';
import { TaskDispatch } from './workers/task-dispatch.js';
import { workerServiceHandlers } from './workers/worker-service.js';
import { Election, SoleLeadership, type Leadership } from './leadership/election.js';
import { EtcdElection } from './leadership/etcd-election.js';
import { forwardingControl, leaderOnly } from './leadership/gates.js';
import { ManagerRegistry, type Self } from './leadership/managers.js';
import { Terms } from './leadership/terms.js';
import { Following } from './store/etcd/following.js';
import { openState, type OpenedState } from './state-open.js';
import type { ManagerOptions } from './manager-options.js';

export type { ManagerOptions } from './manager-options.js';

export type ManagerState = 'running' | 'stopping' | 'stopped';

/**
 * With etcd, how long a new leader gives every node before it may declare one down: a worker
 * finds the new leader within ~1 s after a crash, ~5 s after its leader froze (two heartbeats
 * and a registration time out first).
 */
const TAKEOVER_GRACE_MS = 8000;

interface Parts {
  state: OpenedState;
  pki: ClusterPki;
  servers: ManagerServers;
  sessions: NodeSessions;
  http: DaemonHttp;
  statusStream: StatusStream;
  following: Following | undefined;
  leadership: Leadership;
  lock: DataDirLock;
  logger: Logger;
}

/**
 * A manager: the desired state, the scheduler and reconciler, the workers' and the CLI's gRPC
 * services, its HTTP endpoints and status page. Alone on LevelDB it always leads; on etcd it
 * campaigns, and only while it leads does it decide (leadership/terms.ts) — following, it answers
 * the CLI (forwarding what the leader must do) and points workers to the leader.
 */
export class Manager {
  #state: ManagerState = 'running';
  readonly #abort = new AbortController();
  readonly #running: Promise<void>[] = [];

  private constructor(
    /** `host:port` actually bound. */
    readonly address: string,
    readonly reconciler: ReconcilerLoop,
    private readonly parts: Parts,
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
    const child = (component: string): Logger => options.logger.child({ component });
    const now = options.now ?? Date.now;
    let leadership: Leadership | undefined;
    const state = await openState(
      { ...options, logger },
      // A write found another manager leading: stop at once.
      (err) => leadership?.stepDown(err.message),
    );
    const undo: Array<() => unknown> = [() => state.close()];
    try {
      const { store } = state;
      const pki = await ClusterPki.start(state.ca, store, options.certExpiryMs ?? DEFAULT_CERT_VALIDITY_MS, logger);
      undo.push(() => pki.stop());
      const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
      const graceMs = heartbeatIntervalMs * (options.nodeDownAfter ?? 3);
      const sessions = new NodeSessions(now, heartbeatIntervalMs, options.nodeDownAfter ?? 3);
      const reconciler = new ReconcilerLoop(store, sessions, now, newId, child('reconciler'));
      const health = new HealthIngest(store, now, child('health'));
      const startedAt = now();
      const monitor = new NodeMonitor(store, sessions, now, startedAt, () => reconciler.triggerAll(), child('nodes'));
      const ingress = new IngressTables(store, sessions, now, child('ingress'));
      const dispatch = new TaskDispatch(store, sessions, ingress, options.drainTimeoutMs ?? 2000, child('drain'));
      const self: Self = { id: state.id, address: '', http: '', startedAt };
      const ttlSec = options.leaderLeaseSec ?? 1;
      leadership = state.etcd
        ? new Election(new EtcdElection(state.etcd.client, `${state.etcd.prefix}leader`), self, {
            ttlSec,
            logger: child('leadership'),
          })
        : new SoleLeadership(self);
      const registry = new ManagerRegistry(self, leadership, state.etcd, child('leadership'));
      const lead = leadership;
      const managers = () => ({
        store: state.etcd ? 'etcd' : 'LevelDB',
        leader: lead.leader ? `${lead.leader.id} at ${lead.leader.address}` : '',
        leading: lead.leading,
        message: lead.why,
      });
      const statusSources = { store, sessions, ingress, now, version: VERSION, managers };
      const statusStream = new StatusStream({ sources: statusSources, store, logger: child('status-page') });
      undo.push(() => statusStream.close());
      const statusPages = await StatusPages.load(statusSources, statusStream).catch((err: unknown) => {
        throw new FailedPreconditionError(`cannot read the status page's files: ${(err as Error).message}`);
      });
      const streams = { health: 0 };
      const [imageQueries, logs] = [new ImageQueries(sessions), new LogRelay(store, sessions, child('logs'))];
      const proto = warrenProto();
      const view = leadership;
      const control = (local: boolean) =>
        forwardingControl(
          proto.ControlService.service,
          controlServiceHandlers({
            ...{ store, sessions, now, newId, startedAt, imageQueries, ingress, pki, local, logs },
            managers: registry,
            logger: child('control'),
          }),
          view,
          pki.source,
          local ? 'local' : 'client',
        );
      const worker = leaderOnly(
        proto.WorkerService.service,
        workerServiceHandlers({
          ...{ store, sessions, pki, now, newId, ingress, dispatch, health, imageQueries, streams, logs },
          onNodeChange: () => {
            reconciler.triggerAll();
            ingress.nodeChanged();
          },
          onConnect: () => monitor.check(),
          logger: child('workers'),
        }),
        view,
      );
      const listen = options.listen ?? DEFAULT_MANAGER_ADDRESS;
      const socket = options.socket ?? join(options.dataDir, 'warren.sock');
      const servers = await ManagerServers.start({ listen, socket, pki, control, worker, logger }).catch(
        (err: unknown) => {
          if (err instanceof FailedPreconditionError) throw err;
          throw new FailedPreconditionError(`cannot listen on ${listen}: ${(err as Error).message}`, { cause: err });
        },
      );
      undo.push(() => servers.forceShutdown());
      self.address = servers.address;
      const intervalMs = options.reconcileIntervalMs ?? 1000;
      const components = managerComponents({
        ...{ store, sessions, reconciler, now, startedAt, intervalMs, leadership: view },
        storeName: state.etcd ? 'etcd' : 'LevelDB',
      });
      const httpListen = options.http ?? DEFAULT_MANAGER_HTTP_ADDRESS;
      const http = await DaemonHttp.start({
        listen: httpListen,
        version: VERSION,
        components,
        registry: managerMetrics({ store, sessions, health, reconciler, streams, ingress, dispatch, statusStream }),
        pages: statusPages.handle,
        onStatus: (status) => servers.health.setStatus('', status === 'unhealthy' ? 'NOT_SERVING' : 'SERVING'),
      }).catch((err: unknown) => {
        throw new FailedPreconditionError(`cannot serve HTTP on ${httpListen}: ${(err as Error).message}`, {
          cause: err,
        });
      });
      self.http = http.address;
      const following = state.etcd ? new Following(store, state.etcd.backend, child('store')) : undefined;
      const terms = new Terms({
        ...{ store, sessions, reconciler, monitor, ingress, dispatch, now, logger },
        // Workers of a failover need a moment to find the new leader (a frozen one takes longest).
        graceMs: state.etcd ? Math.max(graceMs, TAKEOVER_GRACE_MS) : graceMs,
        ...(state.etcd && following ? { etcd: { backend: state.etcd.backend, following } } : {}),
        reconcileIntervalMs: intervalMs,
        info: self,
        stepDown: (why) => view.stepDown(why),
      });
      const parts = { state, pki, servers, sessions, http, statusStream, following, leadership, lock, logger };
      const manager = new Manager(servers.address, reconciler, parts);
      logEvents(store, child('events'));
      store.onCommit((changes) => {
        dispatch.push(changes);
        if (changes.some(movesIngress)) ingress.schedule();
        // Health records alone change no decision; a transition (its event) does.
        reconciler.changed(changes);
      });
      following?.start();
      const signal = manager.#abort.signal;
      const hooks = {
        lead: (term: Parameters<Terms['begin']>[0]) => terms.begin(term),
        follow: (leader: { id: string; address: string } | undefined, why: string) =>
          leader
            ? logger.info({ leader: leader.id, at: leader.address }, 'following')
            : logger.warn({ reason: why }, 'no manager leads'),
      };
      manager.#running.push(leadership.run(hooks, signal), registry.register(signal));
      logger.info(
        {
          id: self.id,
          address: self.address,
          socket: servers.socket,
          caHash: pki.ca.hash,
          http: http.address,
          statusPage: `http://${http.address}/`,
          dataDir: options.dataDir,
          store: state.where,
          services: [...store.services()].length,
          tasks: [...store.tasks()].length,
        },
        'manager started',
      );
      return manager;
    } catch (err) {
      for (const step of undo.reverse()) await step();
      throw err;
    }
  }

  /** The join token workers present: `WRN-1-<CA hash>-<secret>`. */
  get token(): string {
    return this.parts.pki.joinToken;
  }

  /** The local CLI's socket, `unix:` + absolute path. */
  get socket(): string {
    return this.parts.servers.socket;
  }

  /** The HTTP endpoints. */
  get http(): DaemonHttp {
    return this.parts.http;
  }

  get state(): ManagerState {
    return this.#state;
  }

  /** Whether this manager leads now (always, alone on LevelDB). */
  get leading(): boolean {
    return this.parts.leadership.leading;
  }

  /**
   * Stops serving (running calls get `graceMs`), ends its term (with etcd the lease is revoked:
   * another manager leads at once), stops the loops, closes the store.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    const { pki, statusStream, http, sessions, servers, following, state, lock, logger } = this.parts;
    logger.info('manager stopping');
    this.#abort.abort();
    await Promise.allSettled(this.#running);
    pki.stop();
    statusStream.close();
    await http.stop();
    sessions.closeAll();
    await servers.stop(graceMs);
    await following?.stop();
    await state.close();
    await lock.release();
    this.#state = 'stopped';
    logger.info('manager stopped');
  }
}

/** Changes that can move an endpoint in or out of the ingress table. */
function movesIngress(change: Change): boolean {
  return change.kind !== 'event' && change.kind !== 'putMeta' && change.kind !== 'putSlot';
}
