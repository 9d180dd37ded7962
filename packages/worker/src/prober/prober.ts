import type { Logger } from 'pino';
import {
  applyResult,
  initialPhaseState,
  judgeThrottled,
  THROTTLED_PERCENT,
  throttledPercent,
  probeRuns,
  spreadOffset,
  type Phase,
  type PhaseState,
  type PhaseStates,
  type ProbeHandler,
  type ProbeResult,
  type ProbeRun,
  type Task,
} from '@warren/core';
import type { ProbeOutcome, ProbeTarget } from '../probes/types.js';
import type { CpuThrottleReader } from './cpu-throttle.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';

/** Runs one probe handler against a target, within `timeoutMs`. Never rejects. */
export type ProbeExecutor = (handler: ProbeHandler, target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;

/** A phase's news after a run: its state, the result, and whether the status changed. */
export interface PhaseUpdate {
  taskId: string;
  phase: Phase;
  state: PhaseState;
  result: ProbeResult;
  transition: boolean;
}

interface ActiveRun {
  run: ProbeRun;
  entry?: TimerEntry<ActiveRun>;
  probing: TaskProbing;
  /** Failures forgiven in a row because the container was CPU-throttled (throttle.ts). */
  forgivenInRow: number;
}

interface TaskProbing {
  task: Task;
  target: ProbeTarget;
  startedAt: number;
  states: Map<Phase, PhaseState>;
  active: ActiveRun[];
  stopped: boolean;
}

export interface ProberOptions {
  execute: ProbeExecutor;
  onUpdate: (update: PhaseUpdate) => void;
  /** Told of every run: which probe, its outcome, how long it took and how late it started. */
  onRun?: (run: ProbeRun, outcome: ProbeOutcome['outcome'], durationMs: number, lagMs: number) => void;
  logger: Logger;
  now?: () => number;
  /** Reads a CPU-limited container's throttling around each run; without it, none is read. */
  throttle?: Pick<CpuThrottleReader, 'read' | 'forget'>;
}

/**
 * Every probe of a worker, on one timer heap (DESIGN.md section 2, rule 1 and 4):
 * - the first run is at once when the container starts; after a worker restart, the first runs
 *   of adopted tasks are spread over one interval, deterministically per task and probe
 * - the next run starts `interval` after the previous one ended, so runs of one probe never
 *   overlap
 * - with a startup probe, liveness and readiness wait until it has passed; it then never runs
 *   again for that container
 * - a probe that turns unhealthy keeps running: the manager decides whether the task is
 *   replaced now or held back by the replacement budget, and a held task may recover. Probing
 *   stops when the task is told to stop.
 */
export class Prober {
  readonly #tasks = new Map<string, TaskProbing>();
  readonly #heap: TimerHeap<ActiveRun>;
  readonly #now: () => number;
  /** Scheduling lag (actual start − planned start) of recent runs, for measurement. */
  readonly lags: number[] = [];

  constructor(private readonly options: ProberOptions) {
    this.#now = options.now ?? Date.now;
    this.#heap = new TimerHeap(this.#now, (active, plannedAt) => void this.#run(active, plannedAt));
  }

  has(taskId: string): boolean {
    return this.#tasks.has(taskId);
  }

  get taskCount(): number {
    return this.#tasks.size;
  }

  /**
   * Starts probing a task's container. `adopted`: the container was already running (worker
   * restart), so first runs are spread. `known`: health the manager already had for the task.
   */
  add(
    task: Task,
    target: ProbeTarget,
    startedAt: number,
    options: { adopted?: boolean; known?: PhaseStates } = {},
  ): void {
    if (this.#tasks.has(task.id)) return;
    const runs = probeRuns(task.spec.health);
    if (runs.length === 0) return;
    const now = this.#now();
    const states = new Map<Phase, PhaseState>();
    for (const run of runs) {
      for (const phase of run.phases) states.set(phase, options.known?.[phase] ?? initialPhaseState(now));
    }
    const probing: TaskProbing = { task, target, startedAt, states, active: [], stopped: false };
    this.#tasks.set(task.id, probing);
    const startupPassed = !runs.some((r) => r.name === 'startup') || states.get('startup')?.status === 'healthy';
    for (const run of runs) {
      if ((run.name === 'startup') === startupPassed) continue;
      const at = options.adopted ? now + spreadOffset(`${task.id}/${run.name}`, run.probe.intervalMs) : now;
      this.#activate(probing, run, at);
    }
  }

  /** Stops probing a task (it is stopping, gone, or failed). */
  remove(taskId: string): void {
    const probing = this.#tasks.get(taskId);
    if (!probing) return;
    probing.stopped = true;
    for (const active of probing.active) if (active.entry) this.#heap.cancel(active.entry);
    this.options.throttle?.forget(probing.target.containerId);
    this.#tasks.delete(taskId);
  }

  stop(): void {
    for (const id of [...this.#tasks.keys()]) this.remove(id);
    this.#heap.stop();
  }

  #activate(probing: TaskProbing, run: ProbeRun, at: number): void {
    const active: ActiveRun = { run, probing, forgivenInRow: 0 };
    probing.active.push(active);
    active.entry = this.#heap.schedule(at, active);
  }

  async #run(active: ActiveRun, plannedAt: number): Promise<void> {
    const { probing, run } = active;
    if (probing.stopped) return;
    active.entry = undefined;
    const at = this.#now();
    const lag = at - plannedAt;
    this.#recordLag(lag);
    const limitNanoCpus = probing.task.spec.resources?.limits.nanoCpus ?? 0;
    const throttle = limitNanoCpus > 0 ? this.options.throttle : undefined;
    const before = await throttle?.read(probing.target.containerId);
    let outcome: ProbeOutcome;
    try {
      outcome = await this.options.execute(run.probe.handler, probing.target, run.probe.timeoutMs);
    } catch (err) {
      outcome = { outcome: 'unknown', output: `probe error: ${(err as Error).message}` };
    }
    const after = before && (await throttle?.read(probing.target.containerId));
    if (probing.stopped) return;
    const end = this.#now();
    const throttled = after ? { throttledPercent: throttledPercent(before, after), limitNanoCpus } : {};
    const policy = probing.task.spec.health.throttled;
    const percent = throttled.throttledPercent ?? 0;
    const judged = judgeThrottled(outcome.outcome, percent, policy, active.forgivenInRow, run.probe.retries);
    active.forgivenInRow = judged.forgivenInRow;
    // A run the engine could not carry out in a starved container is told as the timeout it is.
    const starved = outcome.outcome === 'unknown' && percent >= THROTTLED_PERCENT;
    const raw = {
      at,
      durationMs: end - at,
      outcome: judged.outcome,
      output: starved ? `timed out after ${run.probe.timeoutMs}ms\n${outcome.output}` : outcome.output,
      ...(outcome.code === undefined ? {} : { code: outcome.code }),
      ...throttled,
    };
    this.options.onRun?.(run, judged.outcome, end - at, lag);

    let startupPassed = false;
    for (const phase of run.phases) {
      const { state, result, transition } = applyResult(probing.states.get(phase)!, run.probe, probing.startedAt, raw);
      probing.states.set(phase, state);
      this.options.onUpdate({ taskId: probing.task.id, phase, state, result, transition: transition !== undefined });
      if (transition) {
        const { serviceName: service, slot, id: task } = probing.task;
        const { from, to } = transition;
        const output = raw.output.slice(0, 200) || undefined;
        this.options.logger.debug({ service, slot, task, phase, from, to, output }, `${phase} ${to}`);
        if (phase === 'startup' && to === 'healthy') startupPassed = true;
      }
    }
    probing.active = probing.active.filter((a) => a !== active || !startupPassed);
    if (startupPassed) {
      for (const next of probeRuns(probing.task.spec.health)) {
        if (next.name !== 'startup') this.#activate(probing, next, end);
      }
      return;
    }
    active.entry = this.#heap.schedule(end + run.probe.intervalMs, active);
  }

  #recordLag(lag: number): void {
    if (this.lags.length >= 100_000) this.lags.splice(0, 50_000);
    this.lags.push(lag);
  }
}
