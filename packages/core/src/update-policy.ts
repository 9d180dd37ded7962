import { ValidationError } from './errors.js';
import type { ServiceSpec } from './spec.js';

/** What a rollout does when too many of its new tasks fail: as Swarm's --update-failure-action. */
export const FAILURE_ACTIONS = ['pause', 'continue', 'rollback'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

/** Whether a slot's old task stops before its successor starts, or after it succeeded. */
export const UPDATE_ORDERS = ['stop-first', 'start-first'] as const;
export type UpdateOrder = (typeof UPDATE_ORDERS)[number];

/**
 * How a service rolls its tasks over to a new spec (or back): Swarm's --update-* and
 * --rollback-* flags, with Swarm's defaults. Health gates it: a new task succeeds once it is
 * running, healthy and ready and has stayed so for `monitorMs`.
 */
export interface UpdatePolicy {
  /** Slots updated at once; 0: all. */
  parallelism: number;
  /** Wait between batches. */
  delayMs: number;
  /** How long a new task must stay running, healthy and ready to count as a success. */
  monitorMs: number;
  failureAction: FailureAction;
  /** Failed new tasks tolerated, as a fraction of the slots updated (0 to 1). */
  maxFailureRatio: number;
  order: UpdateOrder;
}

export const UPDATE_DEFAULTS: UpdatePolicy = {
  parallelism: 1,
  delayMs: 0,
  monitorMs: 5000,
  failureAction: 'pause',
  maxFailureRatio: 0,
  order: 'stop-first',
};

/** A rollback cannot itself roll back: its failure action is pause or continue. */
export const ROLLBACK_DEFAULTS: UpdatePolicy = { ...UPDATE_DEFAULTS };

const MAX_DURATION_MS = 86_400_000;

/** Checks one policy; `prefix` names its flags (`--update` or `--rollback`). */
export function validateUpdatePolicy(policy: UpdatePolicy, prefix: '--update' | '--rollback'): UpdatePolicy {
  if (!Number.isInteger(policy.parallelism) || policy.parallelism < 0 || policy.parallelism > 1000) {
    throw new ValidationError(
      `${prefix}-parallelism`,
      policy.parallelism,
      'must be a whole number from 0 (all) to 1000',
    );
  }
  for (const [flag, ms] of [
    [`${prefix}-delay`, policy.delayMs],
    [`${prefix}-monitor`, policy.monitorMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) {
      throw new ValidationError(flag, `${ms}ms`, 'must be between 0s and 24h');
    }
  }
  const actions: readonly string[] = prefix === '--rollback' ? ['pause', 'continue'] : FAILURE_ACTIONS;
  if (!actions.includes(policy.failureAction)) {
    throw new ValidationError(`${prefix}-failure-action`, policy.failureAction, `use one of ${actions.join(', ')}`);
  }
  if (!Number.isFinite(policy.maxFailureRatio) || policy.maxFailureRatio < 0 || policy.maxFailureRatio > 1) {
    throw new ValidationError(`${prefix}-max-failure-ratio`, policy.maxFailureRatio, 'must be a fraction from 0 to 1');
  }
  if (!(UPDATE_ORDERS as readonly string[]).includes(policy.order)) {
    throw new ValidationError(`${prefix}-order`, policy.order, `use one of ${UPDATE_ORDERS.join(', ')}`);
  }
  return policy;
}

/** A policy in words, for `service inspect`. */
export function describeUpdatePolicy(policy: UpdatePolicy, seconds: (ms: number) => string): string {
  const batch =
    policy.parallelism === 0
      ? 'all slots at once'
      : `${policy.parallelism} slot${policy.parallelism === 1 ? '' : 's'} at a time`;
  const delay = policy.delayMs > 0 ? `, ${seconds(policy.delayMs)} between batches` : '';
  const tolerated =
    policy.maxFailureRatio > 0
      ? `more than ${Math.round(policy.maxFailureRatio * 100)}% of new tasks fail`
      : 'a new task fails';
  return (
    `${batch}${delay}, ${policy.order}; each new task must stay healthy and ready for ` +
    `${seconds(policy.monitorMs)}; when ${tolerated}: ${policy.failureAction}`
  );
}

/** Where a service's rollout stands, as `docker service inspect` says it (UpdateStatus.State). */
export const UPDATE_STATES = [
  'updating',
  'paused',
  'completed',
  'rollback_started',
  'rollback_paused',
  'rollback_completed',
] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/**
 * A service's rollout, kept with the service (durable: a manager killed mid-update resumes it).
 * The tasks it judged are named, so a restart never judges one twice.
 */
export interface UpdateStatus {
  state: UpdateState;
  startedAt: number;
  /** 0 while it goes on. */
  completedAt: number;
  /** What happened last, in words. */
  message: string;
  /** New tasks of this rollout that stayed running, healthy and ready for the monitor period. */
  succeeded: string[];
  /** New tasks of this rollout that ended, failed startup or liveness, or missed their deadline. */
  failed: string[];
  /** When the last batch was done (for --update-delay); 0 before the first. */
  batchDoneAt: number;
}

/** Whether the rollout is rolling (forward or back), as opposed to paused or done. */
export function isRolling(status: UpdateStatus | undefined): boolean {
  return status?.state === 'updating' || status?.state === 'rollback_started';
}

/**
 * Whether a task made from spec `a` runs what spec `b` asks for: the same spec, the replica count
 * and the update and rollback policies aside (changing only those rolls no task over);
 * `forceUpdate` counts. Compared as JSON with sorted keys, so the order of fields never matters.
 */
export function specsMatch(a: ServiceSpec, b: ServiceSpec): boolean {
  return rolloutKey(a) === rolloutKey(b);
}

const rolloutKeys = new WeakMap<ServiceSpec, string>();

function rolloutKey(spec: ServiceSpec): string {
  const known = rolloutKeys.get(spec);
  if (known !== undefined) return known;
  // A spec stored before --force existed has no forceUpdate: the same as 0.
  // A task's copy may carry its image's HEALTHCHECK: the service's spec never names it.
  const health = spec.health.fromImage ? {} : spec.health;
  const noHealthcheck = spec.noHealthcheck === true ? true : undefined;
  const forceUpdate = spec.forceUpdate ?? 0;
  const rolled = {
    ...spec,
    health,
    noHealthcheck,
    forceUpdate,
    replicas: 0,
    update: null,
    rollback: null,
    stack: null,
  };
  const key = JSON.stringify(rolled, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : value,
  );
  rolloutKeys.set(spec, key);
  return key;
}
