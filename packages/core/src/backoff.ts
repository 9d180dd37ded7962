/** Exponential backoff: the first delay, doubled after each failure, never above the cap. */
export interface BackoffPolicy {
  /** The first delay, in ms. */
  initialMs: number;
  /** The longest delay, in ms. */
  maxMs: number;
}

/** The delay before retry number `attempt` (0 for the first retry): `initialMs * 2^attempt`, at most `maxMs`. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  return Math.min(policy.initialMs * 2 ** attempt, policy.maxMs);
}
