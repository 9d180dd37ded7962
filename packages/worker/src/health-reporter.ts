import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { phaseToWire, type wire } from '@warren/api';
import { Backoff } from './backoff.js';
import type { PhaseUpdate } from './prober/prober.js';

/** Results kept per pending entry; older ones are dropped (the manager keeps 10 anyway). */
const RESULTS_KEPT = 10;
/** Batches written but not yet acknowledged, at most. */
const MAX_IN_FLIGHT = 16;
/** Waits between streams; a stream that lasted `RECONNECT_RESET_AFTER_MS` starts them again from the first. */
const RECONNECT = { initialMs: 100, maxMs: 2000 };
const RECONNECT_RESET_AFTER_MS = 5000;

interface Pending {
  taskId: string;
  update: PhaseUpdate;
  results: PhaseUpdate['result'][];
  transition: boolean;
}

/**
 * Sends probe results and transitions to the manager on one stream per worker, in batches:
 * a batch goes at once when it holds a transition, otherwise at least every `flushMs`
 * (default 100 ms). Every batch is acknowledged once the manager has persisted it; batches not
 * acknowledged when the stream breaks are sent again on the next stream.
 *
 * While the manager is unreachable, news keeps coalescing per task and phase — but never across
 * a transition: each transition stays its own entry, so none is lost. Old results may be.
 */
export class HealthReporter {
  /** In order; only the last entry of a task+phase may absorb newer news. */
  #pending: Pending[] = [];
  readonly #lastOf = new Map<string, Pending>();
  readonly #inFlight = new Map<number, Pending[]>();
  #seq = 0;
  #call: grpc.ClientDuplexStream<wire.HealthBatch, wire.HealthAckOut> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly client: wire.WorkerServiceClient,
    private readonly nodeId: () => string,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    private readonly flushMs = 100,
  ) {}

  /** Opens the stream and keeps it open (reconnecting) until the signal aborts. */
  start(): void {
    this.#loop ??= this.#connectLoop();
  }

  async stopped(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#loop;
  }

  add(update: PhaseUpdate): void {
    const key = `${update.taskId}/${update.phase}`;
    const last = this.#lastOf.get(key);
    if (last && !update.transition) {
      last.update = update;
      last.results.push(update.result);
      if (last.results.length > RESULTS_KEPT) last.results.shift();
    } else {
      const { taskId, transition } = update;
      const entry: Pending = { taskId, update, results: [update.result], transition };
      this.#pending.push(entry);
      this.#lastOf.set(key, entry);
    }
    if (update.transition) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.flushMs);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const call = this.#call;
    if (!call || this.#pending.length === 0 || this.#inFlight.size >= MAX_IN_FLIGHT) return;
    const entries = this.#pending;
    this.#pending = [];
    this.#lastOf.clear();
    const seq = ++this.#seq;
    this.#inFlight.set(seq, entries);
    call.write({
      nodeId: this.nodeId(),
      seq,
      updates: entries.map((e) => ({
        taskId: e.taskId,
        transition: e.transition,
        phase: phaseToWire(e.update.phase, e.update.state, e.results),
      })),
    });
  }

  async #connectLoop(): Promise<void> {
    const backoff = new Backoff(RECONNECT);
    while (!this.signal.aborted) {
      const started = Date.now();
      await this.#stream().catch((err: unknown) => {
        if (!this.signal.aborted) this.logger.debug({ reason: (err as Error).message }, 'health stream ended');
      });
      // Whatever was not acknowledged goes again, before anything newer.
      const unacked = [...this.#inFlight.keys()].sort((a, b) => a - b).flatMap((seq) => this.#inFlight.get(seq)!);
      this.#inFlight.clear();
      if (unacked.length > 0) {
        this.#pending = [...unacked, ...this.#pending];
        this.#lastOf.clear();
        for (const entry of this.#pending) this.#lastOf.set(`${entry.taskId}/${entry.update.phase}`, entry);
      }
      if (Date.now() - started > RECONNECT_RESET_AFTER_MS) backoff.reset();
      await backoff.wait(this.signal);
    }
  }

  #stream(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.nodeId() === '') return resolve();
      const call = this.client.ReportHealth();
      this.#call = call;
      const onAbort = (): void => call.cancel();
      this.signal.addEventListener('abort', onAbort, { once: true });
      const done = (err?: Error): void => {
        this.signal.removeEventListener('abort', onAbort);
        if (this.#call === call) this.#call = undefined;
        if (err) reject(err);
        else resolve();
      };
      call.on('data', (ack: wire.HealthAckOut) => {
        this.#inFlight.delete(ack.seq);
        if (ack.rejected > 0) {
          this.logger.warn({ seq: ack.seq, rejected: ack.rejected }, 'manager refused some health updates');
        }
        this.#flush();
      });
      call.on('error', (err) => done(err));
      call.on('end', () => done());
      this.#flush();
    });
  }
}
