import { sendLogs } from './logs/task-logs.js';
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { WorkerOptions, WorkerState } from './worker-options.js';
import { HealthImplementation } from 'grpc-health-check';
import { FailedPreconditionError } from '@warren/core';
import { DaemonHttp, DataDirLock, VERSION, bindServer, shutdownServer, type wire } from '@warren/api';
import { localAddressTowards } from './advertise.js';
import { ContainerWatch } from './container-watch.js';
import { EngineWatch } from './engine-watch.js';
import { TaskImages } from './task-images.js';
import { workerComponents } from './worker-components.js';
import { Executor, type ProbeHooks } from './executor.js';
import { HealthReporter } from './health-reporter.js';
import { ManagerLink } from './manager-link.js';
import type { IngressApplied } from './ingress/index.js';
import { ServiceFront } from './service-front.js';
import { NodeIdentity } from './node-identity.js';
import { workerMetrics } from './metrics.js';
import { Prober } from './prober/prober.js';
import { CpuThrottleReader } from './prober/cpu-throttle.js';
import { probeDispatcher } from './probes/dispatch.js';
import { StatusReporter } from './reporter.js';
import { ContainerRuntime } from './runtime.js';
import { leftRunning, type LeftRunning } from './left-running.js';
import { ManagerEndpoints, managerList } from './manager-endpoints.js';

export type { WorkerOptions, WorkerState } from './worker-options.js';

/**
 * A worker agent: registers with the manager, follows its assignment stream, runs the
 * assigned tasks' containers through Docker, and reports their states. Reconnects by itself
 * when the manager goes away; stopping the worker leaves the containers running, and a new
 * worker of the same name adopts them.
 *
 * This class is the lifecycle: it builds the parts, serves the health endpoints, starts the
 * loops (manager link, engine watch, container watch) on one signal, and stops them.
 */
export class Worker {
  /** Until `stop`, the state is the manager link's: `running` while connected. */
  #stopping: 'stopping' | 'stopped' | undefined;
  readonly #abort = new AbortController();
  readonly #client: wire.WorkerServiceClient;
  /** The managers (`--manager a,b,c`): #client follows the leader. */
  readonly #managers: ManagerEndpoints;
  readonly #runtime: ContainerRuntime;
  readonly #reporter: StatusReporter;
  readonly #executor: Executor;
  readonly #prober: Prober;
  readonly #health: HealthReporter;
  readonly #link: ManagerLink;
  readonly #engine: EngineWatch;
  readonly #containers: ContainerWatch;
  readonly #logger: Logger;
  readonly #logsLogger: Logger;
  readonly #name: string;
  readonly #loops: Promise<void>[] = [];
  #http: DaemonHttp | undefined;
  /** grpc.health.v1 for whoever watches this worker; it follows /health. */
  readonly #grpcHealth = new HealthImplementation({ '': 'SERVING' });
  readonly #grpcServer = new grpc.Server();
  #grpcAddress = '';
  readonly #metrics: ReturnType<typeof workerMetrics>;
  /** The proxy and the names. */
  readonly #front: ServiceFront;

  private constructor(
    private readonly options: WorkerOptions,
    advertiseAddr: string,
    private readonly identity: NodeIdentity,
    private readonly lock: DataDirLock,
  ) {
    const { logger } = options;
    this.#logger = logger.child({ component: 'worker' });
    this.#logsLogger = logger.child({ component: 'logs' });
    this.#name = options.name ?? hostname();
    this.#managers = new ManagerEndpoints(
      managerList(options.manager),
      (address) => identity.client(address),
      logger.child({ component: 'manager-link' }),
    );
    this.#client = this.#managers.client;
    this.#runtime = new ContainerRuntime(options.docker, advertiseAddr);
    const signal = this.#abort.signal;
    const nodeId = (): string => this.#link.nodeId;
    this.#reporter = new StatusReporter(this.#client, nodeId, logger.child({ component: 'reporter' }), signal);
    this.#health = new HealthReporter(this.#client, nodeId, logger.child({ component: 'health-reporter' }), signal);
    this.#metrics = workerMetrics({
      probedTasks: () => this.#prober.taskCount,
      connected: () => this.state === 'running',
      reportBacklog: () => this.#reporter.backlog,
    });
    this.#prober = new Prober({
      execute: probeDispatcher(this.#runtime.docker, options.execConcurrency ?? 8),
      onUpdate: (update) => this.#health.add(update),
      onRun: this.#metrics.onRun,
      logger: logger.child({ component: 'prober' }),
      throttle: new CpuThrottleReader(this.#runtime.docker),
    });
    const probes: ProbeHooks = {
      start: (task, target, startedAt, adopted) =>
        this.#prober.add(task, target, startedAt, { adopted, known: task.health }),
      stop: (taskId) => this.#prober.remove(taskId),
      probing: (taskId) => this.#prober.has(taskId),
    };
    const onBindErrors = ({ version, bindErrors }: IngressApplied): void =>
      void this.#link.ackIngress(version, bindErrors, signal);
    this.#front = new ServiceFront(options, logger, this.#metrics.registry, onBindErrors);
    const executorLogger = logger.child({ component: 'executor' });
    const images = new TaskImages(this.#runtime.docker, this.#runtime, logger.child({ component: 'images' }));
    this.#executor = new Executor(this.#runtime, this.#reporter, nodeId, executorLogger, probes, images);
    this.#link = new ManagerLink({
      client: this.#client,
      manager: options.manager,
      managers: this.#managers,
      name: this.#name,
      address: advertiseAddr,
      ingressAddress: options.ingressAddr ?? '0.0.0.0',
      runtime: this.#runtime,
      engine: () => this.#engine.state,
      assignments: {
        full: (tasks) => {
          this.#reporter.flush();
          this.#executor
            .applyFull(tasks)
            .catch((err: unknown) => this.#logger.error({ err }, 'applying assignments failed'));
        },
        changes: (tasks, removedTaskIds) => this.#executor.applyChanges(tasks, removedTaskIds),
        registryAuth: (serviceId, auth) => images.setAuth(serviceId, auth),
        imageQuery: ({ id, image, auth }) =>
          void images.query(image, auth).then((answer) => this.#link.answerImageQuery(id, answer, signal)),
        logs: (question) =>
          void sendLogs(
            question,
            { client: this.#client, runtime: this.#runtime, nodeId: this.#link.nodeId, logger: this.#logsLogger },
            signal,
          ),
        ingress: (table, first) =>
          void this.#front
            .apply(table, this.#link.nodeId, first)
            .then(({ version, bindErrors }) => this.#link.ackIngress(version, bindErrors, signal))
            .catch((err: unknown) => {
              if (!signal.aborted) this.#logger.error({ err }, 'applying the ingress table failed');
            }),
      },
      logger: logger.child({ component: 'manager-link' }),
    });
    const engineLogger = logger.child({ component: 'engine-watch' });
    this.#engine = new EngineWatch(this.#runtime, () => this.#link.heartbeatIntervalMs, engineLogger);
    this.#containers = new ContainerWatch({
      runtime: this.#runtime,
      executor: {
        containerDied: (taskId, containerId, exitCode) => {
          this.#front.ejectTask(taskId);
          return this.#executor.containerDied(taskId, containerId, exitCode);
        },
        sync: (taskId) => this.#executor.sync(taskId),
        sweep: () => this.#executor.sweep(),
      },
      nodeId,
      connected: () => this.state === 'running',
      onImageEvent: () => this.#link.imagesChanged(signal),
      sweepIntervalMs: options.sweepIntervalMs ?? 10_000,
      logger: logger.child({ component: 'container-watch' }),
    });
  }

  /**
   * Starts the worker and resolves once it has registered. Rejects when Docker cannot be
   * reached, the manager refuses the worker (wrong token, bad name) or an endpoint cannot
   * listen, after releasing whatever it had opened; keeps trying while the manager cannot be
   * reached.
   */
  static async start(options: WorkerOptions): Promise<Worker> {
    const advertise =
      options.advertiseAddr ??
      (await localAddressTowards(managerList(options.manager)[0] ?? '').catch((err: unknown) => {
        const why = (err as Error).message;
        throw new FailedPreconditionError(
          `cannot tell this node's address towards ${options.manager} (${why}); set --advertise-addr`,
        );
      }));
    const lock = await DataDirLock.acquire(options.dataDir, 'worker');
    let worker: Worker;
    try {
      // A first start waits for the manager to take the join (a signal meanwhile ends the process: cli/daemon.ts).
      const identity = await NodeIdentity.obtain({ ...options, address: advertise });
      worker = new Worker(options, advertise, identity, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
    try {
      await worker.#start();
    } catch (err) {
      await worker.#close();
      worker.#stopping = 'stopped';
      throw err;
    }
    return worker;
  }

  async #start(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      await this.#runtime.ping();
    } catch (err) {
      throw new FailedPreconditionError(`cannot reach the Docker engine: ${(err as Error).message}`);
    }
    await this.#front.start();
    this.#runtime.dns = this.#front.dns;
    await this.#link.register(signal);
    const http = await this.#startHttp();
    this.#http = http;
    this.#grpcHealth.addToServer(this.#grpcServer);
    const grpcListen = this.options.grpc ?? '127.0.0.1:0';
    try {
      const port = await bindServer(this.#grpcServer, grpcListen);
      this.#grpcAddress = `${grpcListen.slice(0, grpcListen.lastIndexOf(':'))}:${port}`;
    } catch (err) {
      const message = `cannot listen on ${grpcListen}: ${(err as Error).message}`;
      throw new FailedPreconditionError(message, { cause: err });
    }
    this.#logger.debug({ http: http.address, grpc: this.#grpcAddress }, 'health endpoints');
    this.#health.start();
    this.#loops.push(this.#link.run(signal), this.#engine.run(signal), this.#containers.run(signal));
    this.#loops.push(this.identity.renewals(this.#client, signal));
  }

  get nodeId(): string {
    return this.#link.nodeId;
  }

  get name(): string {
    return this.#name;
  }

  get state(): WorkerState {
    return this.#stopping ?? (this.#link.connected ? 'running' : 'connecting');
  }

  /** Where the HTTP endpoints listen. */
  get httpAddress(): string {
    return this.#http?.address ?? '';
  }

  /** Where grpc.health.v1 is served. */
  get grpcAddress(): string {
    return this.#grpcAddress;
  }

  /**
   * Stops the loops and closes the connection; containers keep running (a worker of the same node
   * adopts them). Says what it left (undefined when the engine did not answer, or on a second call).
   */
  async stop(): Promise<LeftRunning | undefined> {
    if (this.#stopping) return undefined;
    this.#stopping = 'stopping';
    await this.#close();
    this.#stopping = 'stopped';
    const left = await leftRunning(this.#runtime, this.#link.nodeId);
    this.#logger.info({ ...left }, 'worker stopped');
    return left;
  }

  /** Aborts the loops and closes the endpoints and the manager connection, whatever `start` got to. */
  async #close(): Promise<void> {
    this.#grpcHealth.setStatus('', 'NOT_SERVING');
    this.#abort.abort();
    this.#executor.stop();
    await this.#http?.stop();
    await shutdownServer(this.#grpcServer, 500);
    this.#prober.stop();
    await this.#front.stop();
    await Promise.allSettled([...this.#loops, this.#health.stopped()]);
    await this.#executor.idle();
    this.#managers.close();
    await this.lock.release();
  }

  /** /health and friends; grpc.health.v1 follows their status. */
  #startHttp(): Promise<DaemonHttp> {
    return DaemonHttp.start({
      listen: this.options.http ?? '127.0.0.1:0',
      version: VERSION,
      registry: this.#metrics.registry,
      onStatus: (status) => this.#grpcHealth.setStatus('', status === 'unhealthy' ? 'NOT_SERVING' : 'SERVING'),
      components: workerComponents({
        manager: this.options.manager,
        ping: () => this.#runtime.ping(),
        connected: () => this.state === 'running',
        cutOffSince: () => this.#link.cutOffSince,
        names: () => this.#front.names(),
      }),
    });
  }
}
