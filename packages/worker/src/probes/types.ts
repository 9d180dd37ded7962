import type { Outcome } from '@warren/core';

/** What a handler saw. `unknown` means the probe could not be carried out (not the task's fault). */
export interface ProbeOutcome {
  outcome: Outcome;
  code?: number;
  output: string;
}

/** Where a probe goes: the task's own container. */
export interface ProbeTarget {
  containerId: string;
  /** The container's IP on its network, or 127.0.0.1 with --network host. */
  address: string;
}

export const HTTP_BODY_LIMIT = 10 * 1024;
export const EXEC_OUTPUT_LIMIT = 4 * 1024;

export function timedOut(timeoutMs: number): ProbeOutcome {
  return { outcome: 'failure', output: `timed out after ${timeoutMs}ms` };
}

/** The error in a few words: `connection refused`, `ECONNRESET`. */
export function networkError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'EHOSTUNREACH') return 'host unreachable';
  if (code === 'ECONNRESET') return 'connection reset';
  return code ?? (err as Error).message;
}
