import type { Outcome } from './health.js';
import { formatCpus } from './resources.js';
import type { HealthSpec } from './spec.js';

/**
 * A starved container is not a broken one (DESIGN.md section 13). A probe run's failure in a
 * container that was CPU-throttled for at least `THROTTLED_PERCENT` of the run's scheduler periods
 * is, by default (`--health-throttled unknown`), recorded as `unknown`: not counted. At most
 * `retries` such runs in a row are forgiven; the next counts as a failure, because a spin-looping,
 * deadlocked task is throttled too and is really broken. A busy replica gets twice the patience,
 * a broken one is still replaced. `--health-throttled failure` counts every failure.
 */
export const THROTTLED_PERCENT = 50;

/** The counters of a cgroup's `cpu.stat` that say how often its quota ran out (v1 and v2 alike). */
export interface CpuPeriods {
  /** Scheduler periods (100 ms by default) in which the cgroup had work. */
  periods: number;
  /** Of those, the periods in which it used up its quota and was held back. */
  throttled: number;
}

/** The share (0-100) of the periods between two readings in which the container was throttled. */
export function throttledPercent(before: CpuPeriods, after: CpuPeriods): number {
  const periods = after.periods - before.periods;
  const throttled = after.throttled - before.throttled;
  if (periods <= 0 || throttled <= 0) return 0;
  return Math.min(100, Math.round((100 * throttled) / periods));
}

/** Parses `cpu.stat`: `nr_periods` and `nr_throttled`, present in cgroup v1 and v2. */
export function parseCpuStat(text: string): CpuPeriods | undefined {
  const value = (key: string): number | undefined => {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const periods = value('nr_periods');
  const throttled = value('nr_throttled');
  return periods === undefined || throttled === undefined ? undefined : { periods, throttled };
}

export interface ThrottleVerdict {
  outcome: Outcome;
  /** Failures forgiven in a row for throttling, after this run. */
  forgivenInRow: number;
}

/**
 * How a run counts, given how throttled its container was: a throttled failure is `unknown` under
 * the default policy until `retries` were forgiven in a row; from then on throttled failures count
 * until a run that is not one (a success, a failure without throttling) ends the row.
 *
 * An `unknown` run in a throttled container is a failure here: an exec check in a starved
 * container cannot even be started or stopped in time, which looks like a slow engine but is the
 * container's own state (a node whose engine is really in trouble has its verdicts set aside by
 * the manager anyway).
 */
export function judgeThrottled(
  outcome: Outcome,
  percent: number,
  policy: HealthSpec['throttled'],
  forgivenInRow: number,
  retries: number,
): ThrottleVerdict {
  if (outcome === 'success' || percent < THROTTLED_PERCENT) return { outcome, forgivenInRow: 0 };
  if (policy === 'failure' || forgivenInRow >= retries) return { outcome: 'failure', forgivenInRow };
  return { outcome: 'unknown', forgivenInRow: forgivenInRow + 1 };
}

/** `container CPU-throttled 85% of that time (limit 0.5 CPU)`. */
export function throttleWords(percent: number, limitNanoCpus: number): string {
  return `container CPU-throttled ${percent}% of that time (limit ${formatCpus(limitNanoCpus)})`;
}

/** How a service's probes count a failure while throttled, in words for `inspect`. */
export function throttledPolicyWords(health: Pick<HealthSpec, 'throttled'>): string {
  if (health.throttled === 'failure') return 'a failure counts even when its container was CPU-throttled (failure)';
  return (
    `a failure while its container was CPU-throttled ${THROTTLED_PERCENT}% of the run or more is not counted, ` +
    'up to the retries in a row (unknown)'
  );
}
