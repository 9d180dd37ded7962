/**
 * A simulated node's probe results (issue 22): every `everyMs` one HealthBatch with a healthy
 * liveness result for each task the node runs, on one ReportHealth stream, as a worker sends
 * them; each batch's send → ack time goes to the fleet's record while it measures. `fail` sends a
 * liveness transition to unhealthy, as a worker's prober would after its retries.
 */
import type { wire } from '@warren/api';

/** What a fleet keeps of its nodes' health streams. */
export interface HealthRecord {
  measuring: boolean;
  /** Send → ack of each batch, ms (while measuring). */
  latencies: number[];
  /** Results acknowledged (while measuring). */
  results: number;
  /** Batches not sent because 16 were still unanswered (the manager was behind). */
  skipped: number;
  /** No batch goes out while set (a measurement of something else without the checks' load). */
  paused?: boolean;
}

export class SimHealth {
  readonly #call: ReturnType<wire.WorkerServiceClient['ReportHealth']>;
  readonly #sentAt = new Map<number, { at: number; results: number }>();
  readonly #timer: NodeJS.Timeout;
  /** When each task's first result (starting → healthy, a transition) went out: its healthy-since. */
  readonly #announced = new Map<string, number>();
  /** Tasks `fail` turned unhealthy: from then on their results fail too, as a prober's would. */
  readonly #failing = new Map<string, number>();
  #seq = 0;

  constructor(
    client: wire.WorkerServiceClient,
    private readonly nodeId: string,
    private readonly running: () => Iterable<string>,
    everyMs: number,
    private readonly record: HealthRecord,
  ) {
    this.#call = client.ReportHealth();
    this.#call.on('data', (ack: wire.HealthAckOut) => {
      const sent = this.#sentAt.get(Number(ack.seq));
      this.#sentAt.delete(Number(ack.seq));
      if (!sent || !record.measuring) return;
      record.latencies.push(performance.now() - sent.at);
      record.results += sent.results;
    });
    this.#call.on('error', () => undefined);
    // Nodes start their intervals at different moments (they joined at different times).
    this.#timer = setInterval(() => this.#send(), everyMs);
  }

  /** The task's liveness turned unhealthy (3 failures in a row): a transition, sent now. */
  fail(taskId: string): void {
    const now = Date.now();
    this.#failing.set(taskId, now);
    this.#write([failed(taskId, now, true, now)]);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#call.cancel();
  }

  #send(): void {
    if (this.record.paused) return;
    if (this.#sentAt.size >= 16) {
      this.record.skipped++;
      return;
    }
    const now = Date.now();
    const result = { atMs: now, durationMs: 2, outcome: 'success', hasCode: true, code: 0, output: '', counted: true };
    const updates = [...this.running()].map((taskId) => {
      const since = this.#failing.get(taskId);
      if (since !== undefined) return failed(taskId, now, false, since);
      const first = !this.#announced.has(taskId);
      if (first) this.#announced.set(taskId, now);
      return {
        taskId,
        transition: first,
        phase: {
          ...{ phase: 'liveness', status: 'healthy', successStreak: 1, failureStreak: 0, everSucceeded: true },
          // Healthy since its first result, as a worker's record says (a rollout's monitor counts from then).
          ...{ lastTransitionAtMs: this.#announced.get(taskId)!, lastTransitionFrom: 'starting', results: [result] },
        },
      };
    });
    if (updates.length > 0) this.#write(updates);
  }

  #write(updates: wire.HealthBatch['updates'] & object): void {
    this.#sentAt.set(++this.#seq, { at: performance.now(), results: updates.length });
    this.#call.write({ nodeId: this.nodeId, seq: this.#seq, updates });
  }
}

/** A failing liveness result of `taskId` (`transition`: the one that turned it unhealthy). */
function failed(taskId: string, now: number, transition: boolean, since: number) {
  const failure = {
    atMs: now,
    durationMs: 2,
    outcome: 'failure',
    hasCode: true,
    code: 1,
    output: 'sim',
    counted: true,
  };
  return {
    taskId,
    transition,
    phase: {
      ...{ phase: 'liveness', status: 'unhealthy', successStreak: 0, failureStreak: 3, everSucceeded: true },
      ...{ lastTransitionAtMs: since, lastTransitionFrom: 'healthy', results: [failure] },
    },
  };
}
