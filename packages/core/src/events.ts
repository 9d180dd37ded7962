/**
 * Events: every health transition, replacement, backoff and budget decision, as it happens.
 * The manager keeps the newest 10,000 (`warren events --since 10m`) and streams new ones.
 */
export const EVENT_TYPES = [
  'service-created',
  'service-scaled',
  'service-removed',
  'task-created',
  'task-running',
  'task-failed',
  'task-replaced',
  'health-transition',
  'replacement-delayed',
  'replacement-held',
  'restart-limit-reached',
  'backoff-reset',
  'correlated-failure',
  'correlated-failure-cleared',
  'task-orphaned',
  'task-drained',
  'node-ready',
  'node-down',
  'node-degraded',
  'node-drain',
  'node-active',
  'node-removed',
  'service-updated',
  'update-started',
  'update-progress',
  'update-paused',
  'update-completed',
  'rollback-started',
  'rollback-paused',
  'rollback-completed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event before the store numbers and stamps it. */
export interface EventDraft {
  type: EventType;
  serviceId: string;
  service: string;
  taskId?: string;
  slot?: number;
  nodeId?: string;
  /** What happened and why, in words. */
  reason: string;
  data?: Record<string, string | number>;
}

export interface WarrenEvent extends EventDraft {
  /** Increasing, never reused. */
  seq: number;
  at: number;
}

export const EVENTS_KEPT = 10_000;
