/**
 * What the manager sends the status page (JSON over server-sent events, DESIGN.md section 3):
 * one shape shared by the server that builds it and the page that draws it. Times are ms since
 * the epoch, on the manager's clock (`now` says what it was when the message was built).
 */

export type TaskHealth = 'none' | 'starting' | 'healthy' | 'unhealthy';
export type Outcome = 'success' | 'failure' | 'unknown';

/** A service in one line: what the overview lists. */
export interface ServiceSummary {
  name: string;
  image: string;
  replicas: number;
  /** Tasks that should run and do. */
  running: number;
  /** Running tasks by health; `notRunning` counts tasks that should run and do not (yet). */
  health: Record<TaskHealth, number> & { notRunning: number };
  /** Tasks in the service's endpoints. */
  ready: number;
  /** The service has health checks. */
  checks: boolean;
  /** Tasks being replaced for health now, and at most how many at once (the replacement budget). */
  replacing: number;
  budget: number;
  /** Unhealthy tasks held back by the budget (kept running, not replaced). */
  held: number;
  /** Since when many tasks fail together (a shared dependency may be down); 0 when they do not. */
  correlatedSince: number;
  update: UpdateView | null;
  /** `8080→80/tcp`. */
  ports: string[];
}

/** The last rollout (`service update` / `service rollback`). */
export interface UpdateView {
  state: string;
  startedAt: number;
  /** 0 while it goes on. */
  completedAt: number;
  message: string;
}

export interface NodeSummary {
  id: string;
  name: string;
  /** `ready` or `down`. */
  status: string;
  /** `active` or `drain`. */
  availability: string;
  address: string;
  lastHeartbeat: number;
  tasks: number;
  engineOk: boolean;
  engineMessage: string;
}

export interface EventView {
  seq: number;
  at: number;
  type: string;
  service: string;
  reason: string;
}

/** Which manager leads (DESIGN 9): alone on LevelDB it is this one. */
export interface ManagersView {
  /** `LevelDB` or `etcd`. */
  store: string;
  /** The leading manager's id and address; '' when none leads. */
  leader: string;
  /** The manager serving this page leads. */
  leading: boolean;
  /** Why none leads (`no quorum: …`, an election), '' when one does. */
  message: string;
}

export interface Overview {
  now: number;
  version: string;
  services: ServiceSummary[];
  nodes: NodeSummary[];
  managers: ManagersView;
  /** Only in `/api/v1/overview`: the newest events, oldest first (the stream sends its own). */
  events?: EventView[];
}

export interface ResultView {
  at: number;
  durationMs: number;
  outcome: Outcome;
  /** `HTTP 500`, `exit code 1: not ready`, or what went wrong. */
  detail: string;
  /** False for unknown outcomes and for failures inside the start period. */
  counted: boolean;
}

/** One configured check: the phases it feeds (a `--health-*` check feeds liveness and readiness). */
export interface CheckView {
  phases: string[];
  words: string;
}

/** A task's runs of one check. */
export interface TaskCheckView {
  phases: string[];
  /** The status of each phase it feeds: `liveness healthy`. */
  statuses: { phase: string; status: string }[];
  /** Oldest first; empty for a live task the page draws as a row (cards.ts). */
  results: ResultView[];
}

export interface TaskView {
  id: string;
  slot: number;
  node: string;
  image: string;
  state: string;
  desiredState: string;
  health: TaskHealth;
  ready: boolean;
  message: string;
  error: string;
  updatedAt: number;
  checks: TaskCheckView[];
}

export interface EndpointView {
  slot: number;
  task: string;
  node: string;
  /** The task's address, and where each published target port is reached: `10.0.0.5:41234`. */
  address: string;
  ports: string[];
}

export interface ServiceDetail {
  now: number;
  summary: ServiceSummary;
  checks: CheckView[];
  endpoints: EndpointView[];
  /** Nodes whose proxy cannot listen on a published port, in words. */
  ingressProblems: string[];
  /** Slots backing off or given up: `slot 2: 3 failures in a row (…), next attempt …`. */
  slots: { slot: number; failures: number; nextAttemptAt: number; gaveUp: boolean; lastReason: string }[];
  /** Tasks that should run, slot by slot, then the ones that ended most recently. */
  tasks: TaskView[];
  /** Only in `/api/v1/services/NAME`: the service's newest events, oldest first (the stream sends its own). */
  events?: EventView[];
}

/** The names of the server-sent events on `/api/v1/stream`. */
export const STREAM_EVENTS = {
  overview: 'overview',
  service: 'service',
  /** The service asked for does not exist (any more). */
  gone: 'gone',
  events: 'events',
} as const;
