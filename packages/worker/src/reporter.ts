import type { Logger } from 'pino';
import type { TaskState } from '@warren/core';
import { isRejected, isUnavailable, tokenMetadata, unary, type wire } from '@warren/api';

export interface StatusReport {
  taskId: string;
  state: TaskState;
  message?: string;
  error?: string;
  exitCode?: number;
  containerId?: string;
  address?: string;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
const PARALLEL = 8;

/**
 * Sends task state changes to the manager. Keeps the newest report per task (states only move
 * forward, so a newer one supersedes an older one), sends reports of different tasks in
 * parallel, and retries while the manager is unreachable: nothing is lost while cut off.
 * A report the manager refuses (a stale task, a state it has already passed) is dropped.
 */
export class StatusReporter {
  readonly #pending = new Map<string, StatusReport>();
  #pumping = false;
  #retryDelay = RETRY_MIN_MS;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: wire.WorkerServiceClient,
    private readonly token: string,
    private readonly nodeId: () => string,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => clearTimeout(this.#timer), { once: true });
  }

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
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#retryDelay = RETRY_MIN_MS;
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping || this.#timer || this.signal.aborted || this.#pending.size === 0) return;
    this.#pumping = true;
    void this.#drain().finally(() => {
      this.#pumping = false;
      if (this.#pending.size > 0 && !this.#timer) this.#pump();
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.size > 0 && !this.signal.aborted) {
      const batch = [...this.#pending.values()].slice(0, PARALLEL);
      const results = await Promise.all(batch.map((r) => this.#send(r)));
      if (results.includes('retry')) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, this.#retryDelay);
        this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
        return;
      }
      this.#retryDelay = RETRY_MIN_MS;
    }
  }

  async #send(report: StatusReport): Promise<'done' | 'retry'> {
    const nodeId = this.nodeId();
    if (nodeId === '') return 'retry';
    try {
      await unary(
        this.client.UpdateTaskStatus,
        this.client,
        {
          nodeId,
          taskId: report.taskId,
          state: report.state,
          message: report.message ?? '',
          error: report.error ?? '',
          hasExitCode: report.exitCode !== undefined,
          exitCode: report.exitCode ?? 0,
          containerId: report.containerId ?? '',
          address: report.address ?? '',
          observedAtMs: Date.now(),
        },
        { metadata: tokenMetadata(this.token), timeoutMs: 5000, signal: this.signal },
      );
    } catch (err) {
      if (isUnavailable(err) || !isRejected(err)) {
        if (!this.signal.aborted) this.logger.debug({ err, task: report.taskId }, 'status report failed; will retry');
        return 'retry';
      }
      this.logger.warn({ task: report.taskId, state: report.state, reason: (err as Error).message }, 'manager refused status report');
    }
    // Only forget it if no newer report for the task came in meanwhile.
    if (this.#pending.get(report.taskId) === report) this.#pending.delete(report.taskId);
    return 'done';
  }
}
