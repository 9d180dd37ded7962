import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FailedPreconditionError, UnauthenticatedError } from '@warren/core';
import { HealthImplementation } from 'grpc-health-check';
import { DaemonHttp, VERSION, bindServer, createWorkerClient, shutdownServer, isRejected, taskFromWire, tokenMetadata, unary, type wire } from '@warren/api';
import { workerMetrics } from './metrics.js';
import type Docker from 'dockerode';
import type { ProbeHandler } from '@warren/core';
import { Executor, type ProbeHooks } from './executor.js';
import { HealthReporter } from './health-reporter.js';
import { Prober } from './prober/prober.js';
import { execProbe } from './probes/exec.js';
import { grpcProbe } from './probes/grpc.js';
import { httpProbe } from './probes/http.js';
import { tcpProbe } from './probes/tcp.js';
import type { ProbeOutcome, ProbeTarget } from './probes/types.js';
import { Backoff } from './backoff.js';
import { StatusReporter } from './reporter.js';
import { ContainerRuntime } from './runtime.js';
import { Semaphore } from './semaphore.js';

export interface WorkerOptions {
  /** The manager's gRPC address, `host:port`. */
  manager: string;
  token: string;
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
}

export type WorkerState = 'connecting' | 'running' | 'stopping' | 'stopped';

/** Waits between registration attempts. */
const REGISTER_RETRY = { initialMs: 100, maxMs: 5000 };
/** The pause before following the assignment stream again after it ended. */
const RECONNECT_PAUSE_MS = 100;
/** How long the engine may take to answer a ping before the node reports it unreachable. */
const ENGINE_PATIENCE_MS = 1000;
const ENGINE_SILENT = { ok: false, message: `no answer within ${ENGINE_PATIENCE_MS / 1000} s` };

/**
 * A worker agent: registers with the manager, follows its assignment stream, runs the
 * assigned tasks' containers through Docker, and reports their states. Reconnects by itself
 * when the manager goes away; stopping the worker leaves the containers running, and a new
 * worker of the same name adopts them.
 */
export class Worker {
  #state: WorkerState = 'connecting';
  #nodeId = '';
  #heartbeatIntervalMs = 1000;
  readonly #abort = new AbortController();
  readonly #client: wire.WorkerServiceClient;
  readonly #runtime: ContainerRuntime;
  readonly #reporter: StatusReporter;
  readonly #executor: Executor;
  readonly #prober: Prober;
  readonly #health: HealthReporter;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #loops: Promise<void>[] = [];
  #http: DaemonHttp | undefined;
  /** grpc.health.v1 for whoever watches this worker; it follows /health. */
  readonly #grpcHealth = new HealthImplementation({ '': 'SERVING' });
  readonly #grpcServer = new grpc.Server();
  #grpcAddress = '';
  #cutOffSince = 0;
  /** The engine's last answer to a ping (one that takes longer than its patience is none). */
  #engine = { ok: true, message: '' };
  readonly #metrics: ReturnType<typeof workerMetrics>;

  private constructor(private readonly options: WorkerOptions) {
    this.#logger = options.logger.child({ component: 'worker' });
    this.#name = options.name ?? hostname();
    this.#client = createWorkerClient(options.manager);
    this.#runtime = new ContainerRuntime(options.docker);
    const signal = this.#abort.signal;
    this.#reporter = new StatusReporter(this.#client, options.token, () => this.#nodeId, options.logger.child({ component: 'reporter' }), signal);
    this.#health = new HealthReporter(this.#client, options.token, () => this.#nodeId, options.logger.child({ component: 'health-reporter' }), signal);
    const execLimit = new Semaphore(options.execConcurrency ?? 8);
    const docker = this.#runtime.docker;
    const execute = (handler: ProbeHandler, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> => {
      switch (handler.kind) {
        case 'http':
          return httpProbe(handler, target, timeoutMs);
        case 'tcp':
          return tcpProbe(handler, target, timeoutMs);
        case 'grpc':
          return grpcProbe(handler, target, timeoutMs);
        case 'exec':
          return execProbe(docker, execLimit, handler, target, timeoutMs);
      }
    };
    this.#metrics = workerMetrics({ probedTasks: () => this.#prober.taskCount, connected: () => this.#state === 'running', reportBacklog: () => this.#reporter.backlog });
    this.#prober = new Prober({ execute, onUpdate: (update) => this.#health.add(update), onRun: this.#metrics.onRun, logger: options.logger.child({ component: 'prober' }) });
    const hooks: ProbeHooks = {
      start: (task, target, startedAt, adopted) => this.#prober.add(task, target, startedAt, { adopted, known: task.health }),
      stop: (taskId) => this.#prober.remove(taskId),
      probing: (taskId) => this.#prober.has(taskId),
    };
    this.#executor = new Executor(this.#runtime, this.#reporter, () => this.#nodeId, options.logger.child({ component: 'executor' }), hooks);
  }

  /**
   * Starts the worker and resolves once it has registered. Rejects when Docker cannot be
   * reached or the manager refuses the worker (wrong token, bad name); keeps trying while the
   * manager cannot be reached.
   */
  static async start(options: WorkerOptions): Promise<Worker> {
    const worker = new Worker(options);
    try {
      await worker.#runtime.ping();
    } catch (err) {
      throw new FailedPreconditionError(`cannot reach the Docker engine: ${(err as Error).message}`);
    }
    await worker.#register(true);
    worker.#http = await DaemonHttp.start({
      listen: options.http ?? '127.0.0.1:0',
      version: VERSION,
      registry: worker.#metrics.registry,
      onStatus: (status) => worker.#grpcHealth.setStatus('', status === 'unhealthy' ? 'NOT_SERVING' : 'SERVING'),
      components: [
        {
          name: 'docker',
          critical: true,
          check: async () => {
            await worker.#runtime.ping();
            return { status: 'healthy', message: 'the engine answers' };
          },
        },
        {
          name: 'manager',
          critical: false,
          check: async () =>
            worker.#state === 'running'
              ? { status: 'healthy', message: `connected to ${options.manager}` }
              : { status: 'degraded', message: `cut off from ${options.manager}${worker.#cutOffSince ? ` for ${Date.now() - worker.#cutOffSince} ms` : ''}; containers and probes keep running` },
        },
      ],
    });
    worker.#grpcHealth.addToServer(worker.#grpcServer);
    const grpcListen = options.grpc ?? '127.0.0.1:0';
    try {
      const port = await bindServer(worker.#grpcServer, grpcListen);
      worker.#grpcAddress = `${grpcListen.slice(0, grpcListen.lastIndexOf(':'))}:${port}`;
    } catch (err) {
      await worker.stop();
      throw new FailedPreconditionError(`cannot listen on ${grpcListen}: ${(err as Error).message}`);
    }
    worker.#logger.info({ http: worker.#http.address, grpc: worker.#grpcAddress }, 'health endpoints');
    worker.#health.start();
    worker.#loops.push(worker.#connectLoop(), worker.#engineLoop(), worker.#heartbeatLoop(), worker.#eventLoop(), worker.#sweepLoop());
    return worker;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  get name(): string {
    return this.#name;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Where the HTTP endpoints listen. */
  get httpAddress(): string {
    return this.#http?.address ?? '';
  }

  /** Where grpc.health.v1 is served. */
  get grpcAddress(): string {
    return this.#grpcAddress;
  }

  /** Stops the loops and closes the connection. Containers keep running. */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#grpcHealth.setStatus('', 'NOT_SERVING');
    this.#abort.abort();
    await this.#http?.stop();
    await shutdownServer(this.#grpcServer, 500);
    this.#prober.stop();
    await Promise.allSettled([...this.#loops, this.#health.stopped()]);
    await this.#executor.idle();
    this.#client.close();
    this.#state = 'stopped';
    this.#logger.info('worker stopped');
  }

  async #register(first: boolean): Promise<void> {
    const signal = this.#abort.signal;
    const retry = new Backoff(REGISTER_RETRY);
    let warned = false;
    for (;;) {
      signal.throwIfAborted();
      try {
        const images = await this.#runtime.images();
        const res = await unary<wire.RegisterRequest, wire.RegisterResponseOut>(
          this.#client.Register,
          this.#client,
          { token: this.options.token, name: this.#name, hostname: hostname(), images },
          { signal, timeoutMs: 5000 },
        );
        this.#nodeId = res.nodeId;
        this.#heartbeatIntervalMs = res.heartbeatIntervalMs || 1000;
        this.#logger.info({ node: this.#name, id: res.nodeId, manager: this.options.manager }, 'registered with manager');
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        if (isRejected(err)) {
          const e = err as grpc.ServiceError;
          const refused = e.code === grpc.status.UNAUTHENTICATED ? new UnauthenticatedError(e.details) : new FailedPreconditionError(e.details);
          if (first) throw refused;
          this.#logger.error({ reason: e.details }, 'manager refused this worker; retrying');
        } else if (!warned) {
          this.#logger.warn({ manager: this.options.manager, reason: (err as Error).message }, 'manager unreachable; retrying');
          warned = true;
        }
      }
      await retry.wait(signal);
    }
  }

  async #connectLoop(): Promise<void> {
    const signal = this.#abort.signal;
    let registered = true;
    while (!signal.aborted) {
      try {
        if (!registered) await this.#register(false);
        registered = false;
        await this.#follow(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ reason: (err as Error).message }, 'assignment stream failed');
      }
      await sleep(RECONNECT_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Follows the assignment stream until it ends. */
  async #follow(signal: AbortSignal): Promise<void> {
    const call = this.#client.Assignments({ nodeId: this.#nodeId }, tokenMetadata(this.options.token));
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        call.on('data', (message: wire.AssignmentsMessageOut) => {
          const tasks = message.tasks.map(taskFromWire);
          if (message.full) {
            this.#state = 'running';
            this.#cutOffSince = 0;
            this.#reporter.flush();
            this.#logger.info({ tasks: tasks.length }, 'assignments received');
            this.#executor.applyFull(tasks).catch((err: unknown) => this.#logger.error({ err }, 'applying assignments failed'));
          } else this.#executor.applyChanges(tasks, message.removedTaskIds);
        });
        call.on('end', () => resolve());
        call.on('error', (err: grpc.ServiceError) => (err.code === grpc.status.CANCELLED && signal.aborted ? resolve() : reject(err)));
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!signal.aborted) {
        this.#state = 'connecting';
        this.#cutOffSince ||= Date.now();
      }
    }
  }

  /**
   * Pings the engine on its own clock, so a hung engine never delays a heartbeat: a heartbeat
   * late by the ping's second would get a healthy node declared down when heartbeats are
   * frequent (the manager's down bound can be shorter than a ping's patience).
   */
  async #engineLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#engine = await this.#runtime
        .ping(AbortSignal.any([signal, AbortSignal.timeout(ENGINE_PATIENCE_MS)]))
        .then(() => ({ ok: true, message: '' }))
        .catch((err: unknown) => (['AbortError', 'TimeoutError'].includes((err as Error).name) ? ENGINE_SILENT : { ok: false, message: (err as Error).message }));
      await sleep(Math.min(this.#heartbeatIntervalMs, ENGINE_PATIENCE_MS), undefined, { signal }).catch(() => undefined);
    }
  }

  async #heartbeatLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await sleep(this.#heartbeatIntervalMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted || this.#state !== 'running') continue;
      const engine = this.#engine;
      try {
        const res = await unary<wire.HeartbeatRequest, wire.HeartbeatResponseOut>(
          this.#client.Heartbeat,
          this.#client,
          { nodeId: this.#nodeId, engineUnreachable: !engine.ok, engineMessage: engine.message },
          { metadata: tokenMetadata(this.options.token), signal, timeoutMs: this.#heartbeatIntervalMs * 2 },
        );
        this.#heartbeatIntervalMs = res.heartbeatIntervalMs || this.#heartbeatIntervalMs;
      } catch (err) {
        if (!signal.aborted) this.#logger.debug({ reason: (err as Error).message }, 'heartbeat failed');
      }
    }
  }

  /** Docker events: a container that died or vanished is looked at at once. */
  async #eventLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        for await (const event of this.#runtime.events(signal)) {
          if (event.kind === 'image') this.#refreshImages();
          else if (event.nodeId !== this.#nodeId) continue;
          else if (event.action === 'die') void this.#executor.containerDied(event.taskId, event.containerId, event.exitCode ?? -1);
          else if (event.action === 'destroy') void this.#executor.sync(event.taskId);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ reason: (err as Error).message }, 'Docker event stream failed');
      }
      await sleep(1000, undefined, { signal }).catch(() => undefined);
      if (!signal.aborted) await this.#executor.sweep().catch((err: unknown) => this.#logger.warn({ err }, 'sweep failed'));
    }
  }

  async #sweepLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await sleep(this.options.sweepIntervalMs ?? 10_000, undefined, { signal }).catch(() => undefined);
      if (signal.aborted || this.#state !== 'running') continue;
      await this.#executor.sweep().catch((err: unknown) => this.#logger.warn({ reason: (err as Error).message }, 'sweep failed'));
    }
  }

  #imagesTimer: NodeJS.Timeout | undefined;

  /** Image events come in bursts: tell the manager once they settle. */
  #refreshImages(): void {
    clearTimeout(this.#imagesTimer);
    this.#imagesTimer = setTimeout(() => {
      if (this.#abort.signal.aborted) return;
      this.#runtime
        .images()
        .then((images) => unary(this.#client.UpdateNodeImages, this.#client, { nodeId: this.#nodeId, images }, { metadata: tokenMetadata(this.options.token), signal: this.#abort.signal }))
        .catch((err: unknown) => this.#logger.warn({ reason: (err as Error).message }, 'image list update failed'));
    }, 200);
  }
}
