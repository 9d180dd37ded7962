import type { Logger } from 'pino';
import { canAdvance, isTerminal, probeRuns, type HealthSpec, type TaskState } from '@warren/core';
import type { AssignedTask } from '@warren/api';
import type { StatusReporter, StatusReport } from './reporter.js';
import type { ProbeTarget } from './probes/types.js';
import { dockerMessage, type ContainerRuntime, type TaskContainer } from './runtime.js';
import { exitReason } from './exit-reason.js';

type Task = AssignedTask;

/** What the executor tells the prober: a task's container runs, or must no longer be probed. */
export interface ProbeHooks {
  /** `adopted`: the container was running before this worker saw it (a worker restart). */
  start(task: Task, target: ProbeTarget, startedAt: number, adopted: boolean): void;
  stop(taskId: string): void;
  probing(taskId: string): boolean;
}

/** Where a task's image comes from: the node's engine, pulled when the task's policy says so. */
export interface ImageSource {
  /** Resolves once the image is on the engine; rejects with a PullError a user can act on. */
  prepare(task: Task, onProgress: (message: string) => void, signal: AbortSignal): Promise<void>;
}

/** Stop timeout for containers whose task the manager no longer knows. */
const UNKNOWN_TASK_STOP_TIMEOUT_MS = 10_000;

/**
 * Makes the node's containers match its assignments. Each task is handled by one chain of
 * work at a time (no two operations on one task overlap); any number of tasks proceed at once.
 *
 * A task's container is created when the task is `assigned`, stopped when its desired state
 * turns `shutdown`, and removed when the manager forgets the task (history pruned, service
 * removed). Containers of this node that no assignment names are stopped and removed. The
 * worker reports what it observes, forward only; it never changes the desired state.
 */
export class Executor {
  readonly #assigned = new Map<string, Task>();
  readonly #reported = new Map<string, TaskState>();
  readonly #chains = new Map<string, Promise<void>>();
  /** Exit codes from `die` events, by task and container: Docker's list can still say "running". */
  readonly #exited = new Map<string, Map<string, number>>();

  /** Pulls in progress by task: aborted when the task is stopped or forgotten meanwhile. */
  readonly #preparing = new Map<string, AbortController>();
  /** Syncs queued behind a task's running work and not yet started. */
  readonly #queued = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly reporter: StatusReporter,
    private readonly nodeId: () => string,
    private readonly logger: Logger,
    private readonly probes: ProbeHooks,
    private readonly images: ImageSource,
  ) {}

  /** The whole set of the node's tasks (first message of a stream): anything else goes. */
  async applyFull(tasks: Task[]): Promise<void> {
    const previous = [...this.#assigned.keys()];
    this.#assigned.clear();
    for (const task of tasks) this.#assigned.set(task.id, task);
    for (const id of this.#preparing.keys()) if (!this.#wanted(id)) this.#preparing.get(id)?.abort();
    const containers = await this.runtime.containersOfNode(this.nodeId());
    const ids = new Set([...previous, ...tasks.map((t) => t.id), ...containers.map((c) => c.taskId)]);
    await Promise.all([...ids].map((id) => this.sync(id)));
  }

  applyChanges(tasks: Task[], removedTaskIds: string[]): void {
    for (const task of tasks) {
      this.#assigned.set(task.id, task);
      if (!this.#wanted(task.id)) this.#preparing.get(task.id)?.abort();
      void this.sync(task.id);
    }
    for (const id of removedTaskIds) {
      this.#assigned.delete(id);
      this.#preparing.get(id)?.abort();
      void this.sync(id);
    }
  }

  /** A container died (Docker event): record its exit code and look at its task. */
  containerDied(taskId: string, containerId: string, exitCode: number): Promise<void> {
    const codes = this.#exited.get(taskId) ?? new Map<string, number>();
    this.#exited.set(taskId, codes.set(containerId, exitCode));
    return this.sync(taskId);
  }

  /** Looks at every container of the node again (after missed events). */
  async sweep(): Promise<void> {
    const containers = await this.runtime.containersOfNode(this.nodeId());
    const ids = new Set([...this.#assigned.keys(), ...containers.map((c) => c.taskId)]);
    await Promise.all([...ids].map((id) => this.sync(id)));
  }

  /** Stops waiting for every pull (the worker stops): no container is created after this. */
  stop(): void {
    this.#stopped = true;
    for (const controller of this.#preparing.values()) controller.abort();
  }

  /**
   * Brings one task's container in line, after the task's earlier work has finished. A sync that
   * is queued and not yet started already covers this request (it reads the task when it runs):
   * a burst of updates during a long pull adds one sync, not one per update.
   */
  sync(taskId: string): Promise<void> {
    const queued = this.#queued.get(taskId);
    if (queued) return queued;
    const previous = this.#chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(() => {
      this.#queued.delete(taskId);
      return this.#sync(taskId).catch((err: unknown) => this.logger.error({ err, task: taskId }, 'task sync failed'));
    });
    this.#queued.set(taskId, next);
    this.#chains.set(taskId, next);
    void next.finally(() => {
      if (this.#chains.get(taskId) === next) this.#chains.delete(taskId);
    });
    return next;
  }

  /** Resolves when all work started so far has finished. */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all(this.#chains.values());
  }

  async #sync(taskId: string): Promise<void> {
    const nodeId = this.nodeId();
    const task = this.#assigned.get(taskId);
    const listed = await this.runtime.containersOfTask(nodeId, taskId);
    const codes = this.#exited.get(taskId);
    const containers = listed.map((c) => {
      const exitCode = codes?.get(c.id);
      return exitCode === undefined || !isActive(c) ? c : { ...c, state: 'exited', exitCode };
    });
    if (codes && listed.length === 0) this.#exited.delete(taskId);
    if (!task || task.desiredState === 'shutdown' || isTerminal(task.state)) this.probes.stop(taskId);
    if (!task) {
      for (const c of containers) await this.#discard(c, UNKNOWN_TASK_STOP_TIMEOUT_MS);
      this.#reported.delete(taskId);
      this.#exited.delete(taskId);
      return;
    }
    const [container, ...extra] = containers;
    for (const c of extra) await this.#discard(c, task.spec.stopTimeoutMs);
    const state = this.#effectiveState(task);

    if (task.desiredState === 'shutdown') {
      if (container && isActive(container)) {
        this.logger.debug({ service: task.serviceName, slot: task.slot, task: task.id }, 'stopping container');
        await this.runtime.stop(container.id, task.spec.stopTimeoutMs);
      }
      if (isTerminal(state)) return;
      // 137 says the command ignored SIGTERM and was killed after the stop timeout.
      const exitCode = container ? await this.runtime.exitCode(container.id) : undefined;
      const exited = exitCode === undefined ? {} : { exitCode };
      this.#report(task, { taskId, state: 'shutdown', message: 'stopped', ...exited });
      return;
    }

    // A container created but never started (the worker stopped between the two) starts over too.
    const unstarted = state === 'assigned' || state === 'preparing' || state === 'starting';
    if (!container || (container.state === 'created' && unstarted)) {
      if (container) await this.runtime.remove(container.id);
      // `preparing` here: a pull this worker did not finish (it restarted); it starts over.
      if (unstarted) await this.#start(task);
      else if (!isTerminal(state)) {
        const error = 'container removed outside Warren';
        this.#report(task, { taskId, state: 'failed', error, message: 'container gone' });
      }
      return;
    }
    if (container.state === 'running') {
      // Adopted (worker restart) or not yet reported: report it, and probe it if it has checks.
      const report = !isTerminal(state) && state !== 'running';
      // Once the manager has it running, its spec has the image's check if the image has one.
      const run = report ? await this.#withImageCheck(task) : task;
      const probe = !isTerminal(state) && !this.probes.probing(taskId) && probeRuns(run.spec.health).length > 0;
      if (!report && !probe) return;
      const { address, startedAt, ports } = await this.runtime.probeTarget(container.id, task.spec);
      if (report) {
        const running = { taskId, state: 'running', message: 'running', containerId: container.id, address } as const;
        this.#report(task, { ...running, ports, ...imageCheckOf(task, run) });
      }
      if (probe) this.probes.start(run, { containerId: container.id, address }, startedAt, true);
    } else if ((container.state === 'exited' || container.state === 'dead') && !isTerminal(state)) {
      this.probes.stop(taskId);
      const ok = container.exitCode === 0;
      this.#report(task, {
        taskId,
        state: ok ? 'complete' : 'failed',
        message: ok ? 'exited' : 'container exited',
        ...(ok ? {} : { error: await exitReason(this.runtime, container, task.spec) }),
        exitCode: container.exitCode,
        containerId: container.id,
      });
    }
  }

  async #start(task: Task): Promise<void> {
    const fields = { service: task.serviceName, slot: task.slot, task: task.id };
    if (!(await this.#prepare(task))) return;
    // Stopped or forgotten while its image came: the sync queued for that does what is wanted.
    if (!this.#wanted(task.id)) return;
    this.#report(task, { taskId: task.id, state: 'starting', message: 'creating container' });
    try {
      const run = await this.#withImageCheck(task);
      const containerId = await this.runtime.run(task, this.nodeId());
      const { address, startedAt, ports } = await this.runtime.probeTarget(containerId, task.spec);
      this.logger.debug({ ...fields, container: containerId.slice(0, 12), address }, 'container started');
      const running = { taskId: task.id, state: 'running', message: 'running', containerId, address } as const;
      this.#report(task, { ...running, ports, ...imageCheckOf(task, run) });
      this.probes.start(run, { containerId, address }, startedAt, false);
    } catch (err) {
      const reason = dockerMessage(err);
      this.logger.debug({ ...fields, reason }, 'container could not be started');
      this.#report(task, { taskId: task.id, state: 'rejected', message: 'could not start', error: reason });
    }
  }

  /** Gets the task's image (`preparing`, with progress); false when the task ends here. */
  async #prepare(task: Task): Promise<boolean> {
    if (!this.#wanted(task.id)) return false;
    const controller = new AbortController();
    this.#preparing.set(task.id, controller);
    this.#report(task, { taskId: task.id, state: 'preparing', message: 'preparing the image' });
    try {
      const progress = (message: string): void => {
        this.#report(task, { taskId: task.id, state: 'preparing', message }, { progress: true });
      };
      await this.images.prepare(task, progress, controller.signal);
      return true;
    } catch (err) {
      // Stopped or forgotten meanwhile: the next sync of the task does what is wanted now.
      if (controller.signal.aborted) return false;
      const error = err instanceof Error ? err.message : String(err);
      const fields = { service: task.serviceName, slot: task.slot, task: task.id, reason: error };
      this.logger.debug(fields, 'image could not be prepared');
      this.#report(task, { taskId: task.id, state: 'rejected', message: 'image not available', error });
      return false;
    } finally {
      this.#preparing.delete(task.id);
    }
  }

  /**
   * The task with its image's HEALTHCHECK as its check, when its spec gives none and does not
   * say --no-healthcheck (as Swarm); the task itself otherwise, or when the image cannot be read.
   */
  async #withImageCheck(task: Task): Promise<Task> {
    if (task.spec.noHealthcheck || probeRuns(task.spec.health).length > 0) return task;
    try {
      const health = await this.runtime.imageHealth(task.spec.image);
      return health ? { ...task, spec: { ...task.spec, health } } : task;
    } catch (err) {
      const fields = { service: task.serviceName, slot: task.slot, task: task.id, err };
      this.logger.warn(fields, "the image's HEALTHCHECK could not be read; the task runs without it");
      return task;
    }
  }

  async #discard(container: TaskContainer, stopTimeoutMs: number): Promise<void> {
    this.logger.debug({ task: container.taskId, container: container.id.slice(0, 12) }, 'removing container');
    if (isActive(container)) await this.runtime.stop(container.id, stopTimeoutMs);
    await this.runtime.remove(container.id);
  }

  /** The manager still wants the task running here, and the worker is not stopping. */
  #wanted(taskId: string): boolean {
    return !this.#stopped && this.#assigned.get(taskId)?.desiredState === 'running';
  }

  #effectiveState(task: Task): TaskState {
    const reported = this.#reported.get(task.id);
    return reported !== undefined && canAdvance(task.state, reported) ? reported : task.state;
  }

  /** `progress`: a new message in the same state (a pull's progress) goes out too. */
  #report(task: Task, report: StatusReport, { progress = false } = {}): void {
    const current = this.#effectiveState(task);
    const moves = canAdvance(current, report.state) || (progress && current === report.state);
    if (!moves) return;
    this.#reported.set(task.id, report.state);
    this.reporter.report(report);
  }
}

/** The report's field for a check taken from the image, if `run` has one `task` lacked. */
function imageCheckOf(task: Task, run: Task): { imageCheck?: HealthSpec } {
  return run === task ? {} : { imageCheck: run.spec.health };
}

function isActive(container: TaskContainer): boolean {
  return container.state === 'running' || container.state === 'paused' || container.state === 'restarting';
}
