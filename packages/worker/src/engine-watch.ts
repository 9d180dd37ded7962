import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ContainerRuntime } from './runtime.js';

/** How long the engine may take to answer a ping before the node reports it unreachable. */
export const ENGINE_PATIENCE_MS = 1000;

/** The engine's answer to a ping: `ok`, or why not. */
export interface EngineState {
  ok: boolean;
  message: string;
}

const ENGINE_SILENT: EngineState = { ok: false, message: `no answer within ${ENGINE_PATIENCE_MS / 1000} s` };

/**
 * Pings the engine on its own clock, so a hung engine never delays a heartbeat: a heartbeat
 * late by the ping's second would get a healthy node declared down when heartbeats are
 * frequent (the manager's down bound can be shorter than a ping's patience).
 */
export class EngineWatch {
  #state: EngineState = { ok: true, message: '' };

  /** `intervalMs`: the heartbeat interval; the pause between pings is the shorter of it and the patience. */
  constructor(
    private readonly runtime: Pick<ContainerRuntime, 'ping'>,
    private readonly intervalMs: () => number,
    private readonly logger: Logger,
  ) {}

  /** The engine's last answer to a ping (one that takes longer than its patience is none). */
  get state(): EngineState {
    return this.#state;
  }

  /** Pings until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const state = await this.runtime
        .ping(AbortSignal.any([signal, AbortSignal.timeout(ENGINE_PATIENCE_MS)]))
        .then(() => ({ ok: true, message: '' }))
        .catch((err: unknown) => answerOf(err as Error));
      if (signal.aborted) return;
      // Only changes are logged: a hung engine is pinged every second.
      if (this.#state.ok && !state.ok) this.logger.warn({ reason: state.message }, 'Docker engine unreachable');
      else if (!this.#state.ok && state.ok) this.logger.info('Docker engine answers again');
      this.#state = state;
      await sleep(Math.min(this.intervalMs(), ENGINE_PATIENCE_MS), undefined, { signal }).catch(() => undefined);
    }
  }
}

/** A ping that was cut off (patience or shutdown) had no answer; any other failure is the engine's answer. */
function answerOf(err: Error): EngineState {
  return ['AbortError', 'TimeoutError'].includes(err.name) ? ENGINE_SILENT : { ok: false, message: err.message };
}
