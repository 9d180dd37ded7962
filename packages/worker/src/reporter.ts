import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { HealthSpec, TaskPort, TaskState } from '@warren/core';
import { healthSpecToWire, isRejected, isUnavailable, unary, type wire } from '@warren/api';
import { Backoff } from './backoff.js';

export interface StatusReport {
  taskId: string;
  state: TaskState;
  message?: string;
  error?: string;
  exitCode?: number;
  containerId?: string;
  address?: string;
  /** With `running`: its published target ports as bound on this node. */
  ports?: TaskPort[];
  /** The image's HEALTHCHECK, taken as the task's check (its spec gave none). */
  imageCheck?: HealthSpec;
}

/** Waits between attempts while the manager cannot take reports. */
const RETRY = { initialMs: 100, maxMs: 5000 };
/** Reports sent at once to a manager that takes one per call. */
const PARALLEL = 8;
/** Reports in one UpdateTaskStatuses call, at most. */
const BATCH = 100;

/**
 * Sends task state changes to the manager. Keeps the newest report per task (states only move
 * forward, so a newer one supersedes an older one), sends what is pending in one call (up to
 * BATCH reports, each answered on its own), and retries while the manager is unreachable:
 * nothing is lost while cut off.
 * A report the manager refuses (a stale task, a state it has already passed) is dropped.
 */
export class StatusReporter {
  readonly #pending = new Map<string, StatusReport>();
  #pumping = false;
  readonly #retry = new Backoff(RETRY);
  /** The manager does not know UpdateTaskStatuses (an earlier version): one report per call. */
  #oneByOne = false;
  /** Ends the wait before the next attempt early (`flush`); set only while waiting. */
  #wake: AbortController | undefined;

  constructor(
    private readonly client: wire.WorkerServiceClient,
    private readonly nodeId: () => string,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
  ) {}

  report(report: StatusReport): void {
    this.#pending.set(report.taskId, report);
    this.#pump();
  }

  /** Reports not yet accepted by the manager. */
  get backlog(): number {
    return this.#pending.size;
  }

  /** Try now (the connection is back). */
  flush(): void {
    this.#retry.reset();
    this.#wake?.abort();
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping || this.signal.aborted || this.#pending.size === 0) return;
    this.#pumping = true;
    void this.#drain().finally(() => {
      this.#pumping = false;
      if (this.#pending.size > 0) this.#pump();
    });
  }

  /** Sends until nothing is pending; while the manager cannot take reports, waits between tries. */
  async #drain(): Promise<void> {
    while (this.#pending.size > 0 && !this.signal.aborted) {
      const pending = [...this.#pending.values()];
      const results = this.#oneByOne
        ? await Promise.all(pending.slice(0, PARALLEL).map((r) => this.#send(r)))
        : await this.#sendBatch(pending.slice(0, BATCH));
      if (!results.includes('retry')) {
        this.#retry.reset();
        continue;
      }
      this.#wake = new AbortController();
      await this.#retry.wait(AbortSignal.any([this.signal, this.#wake.signal]));
      this.#wake = undefined;
    }
  }

  /** The reports in one call, each answered on its own. */
  async #sendBatch(reports: StatusReport[]): Promise<Array<'done' | 'retry'>> {
    const nodeId = this.nodeId();
    if (nodeId === '') return ['retry'];
    let outcomes: wire.TaskStatusOutcome[];
    try {
      const updates = reports.map((r) => toWire(nodeId, r));
      const options = { timeoutMs: 5000, signal: this.signal };
      const ack = await unary<wire.TaskStatusBatch, wire.TaskStatusBatchAckOut>(
        this.client.UpdateTaskStatuses,
        this.client,
        { nodeId, updates },
        options,
      );
      outcomes = ack.outcomes;
    } catch (err) {
      if ((err as { code?: number }).code === grpc.status.UNIMPLEMENTED) {
        // A manager of an earlier version: one call per report.
        this.#oneByOne = true;
        return ['done'];
      }
      return reports.map((r) => this.#failed(r, err));
    }
    return reports.map((r, i) => {
      const outcome = outcomes[i];
      if (!outcome || outcome.code === grpc.status.OK) return this.#done(r);
      return this.#failed(r, Object.assign(new Error(outcome.error), { code: outcome.code, details: outcome.error }));
    });
  }

  async #send(report: StatusReport): Promise<'done' | 'retry'> {
    const nodeId = this.nodeId();
    if (nodeId === '') return 'retry';
    try {
      await unary(this.client.UpdateTaskStatus, this.client, toWire(nodeId, report), {
        timeoutMs: 5000,
        signal: this.signal,
      });
    } catch (err) {
      return this.#failed(report, err);
    }
    return this.#done(report);
  }

  /** A report that did not go through: tried again when the manager could not take it, else dropped. */
  #failed(report: StatusReport, err: unknown): 'done' | 'retry' {
    if (isUnavailable(err) || !isRejected(err)) {
      if (!this.signal.aborted) this.logger.debug({ err, task: report.taskId }, 'status report failed; will retry');
      return 'retry';
    }
    const reason = (err as Error).message;
    this.logger.warn({ task: report.taskId, state: report.state, reason }, 'manager refused status report');
    return this.#done(report);
  }

  #done(report: StatusReport): 'done' {
    // Only forget it if no newer report for the task came in meanwhile.
    if (this.#pending.get(report.taskId) === report) this.#pending.delete(report.taskId);
    return 'done';
  }
}

function toWire(nodeId: string, report: StatusReport): wire.TaskStatusUpdate {
  return {
    nodeId,
    taskId: report.taskId,
    state: report.state,
    message: report.message ?? '',
    error: report.error ?? '',
    hasExitCode: report.exitCode !== undefined,
    exitCode: report.exitCode ?? 0,
    containerId: report.containerId ?? '',
    address: report.address ?? '',
    ports: report.ports ?? [],
    ...(report.imageCheck ? { imageCheck: healthSpecToWire(report.imageCheck) } : {}),
    observedAtMs: Date.now(),
  };
}
