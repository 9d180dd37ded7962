import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type BackoffPolicy } from '@warren/core';

/**
 * The waits of a retry loop: each `wait` lasts twice the one before, up to the policy's cap,
 * until `reset` (after a success) starts again from the first delay.
 */
export class Backoff {
  #attempt = 0;

  constructor(readonly policy: BackoffPolicy) {}

  /** How long the next `wait` lasts. */
  get nextDelayMs(): number {
    return backoffDelay(this.policy, this.#attempt);
  }

  /** The next wait is the first delay again. */
  reset(): void {
    this.#attempt = 0;
  }

  /**
   * Waits the next delay and lengthens the one after. Resolves early, without throwing, when
   * `signal` aborts (at once if it already has): the caller's loop checks the signal anyway.
   */
  async wait(signal: AbortSignal): Promise<void> {
    const delayMs = this.nextDelayMs;
    if (delayMs < this.policy.maxMs) this.#attempt++;
    await sleep(delayMs, undefined, { signal }).catch(() => undefined);
  }
}
