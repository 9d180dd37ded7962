import type { ServiceSpec } from './spec.js';

/**
 * Task states, in the order a task moves through them (as in Swarm). Observed state only ever
 * moves forward; the terminal states end a task for good.
 *
 *   new → pending → assigned → preparing → starting → running → complete | failed | shutdown | rejected | orphaned
 *
 * - pending:  waiting for a node
 * - assigned: a node has it; its worker prepares it
 * - preparing: its worker pulls the image (the message says how far: `pulling 42% of 35.1 MB`)
 * - starting: the container is created and being started
 * - complete: the container exited with code 0
 * - failed:   the container exited with another code, vanished, or failed its health check
 * - shutdown: stopped because the manager wanted it stopped
 * - rejected: the worker could not pull the image or create the container (image not found, pull
 *             access denied, registry unreachable, a bad command or network)
 * - orphaned: its node went down and another node took its slot (set by the manager)
 */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'preparing',
  'starting',
  'running',
  'complete',
  'failed',
  'shutdown',
  'rejected',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const TERMINAL: ReadonlySet<TaskState> = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned']);

/** The states a worker may report; the rest are the manager's. */
export const WORKER_STATES: ReadonlySet<TaskState> = new Set([
  'preparing',
  'starting',
  'running',
  'complete',
  'failed',
  'shutdown',
  'rejected',
]);

export type DesiredState = 'running' | 'shutdown';

/** A task's target port, bound to an ephemeral port of its node: where proxies connect. */
export interface TaskPort {
  target: number;
  /** `node address:host port`. */
  address: string;
}

export interface Task {
  id: string;
  serviceId: string;
  serviceName: string;
  slot: number;
  /** Empty until scheduled. */
  nodeId: string;
  /** The manager's decision; a worker never changes it. */
  desiredState: DesiredState;
  state: TaskState;
  /** What is happening, in words. */
  message: string;
  /** Why the task ended, when it ended badly. */
  error: string;
  exitCode?: number;
  containerId: string;
  /** Where the container can be reached (its IP on its network), once running. */
  address: string;
  /** Its published target ports as bound on its node (`node address:host port`), once running. */
  ports?: TaskPort[];
  /** When the task turned running (0 before). */
  startedAt: number;
  /**
   * Created to replace a task failed by its health check: it counts against the service's
   * replacement budget until it is healthy or ends.
   */
  replacing: boolean;
  /** Unhealthy, but its replacement is held back by the budget. */
  held: boolean;
  createdAt: number;
  updatedAt: number;
  /** The spec this task runs: a copy taken when the task was created. */
  spec: ServiceSpec;
}

export function isTaskState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value);
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

function rank(state: TaskState): number {
  return isTerminal(state) ? TASK_STATES.indexOf('running') + 1 : TASK_STATES.indexOf(state);
}

/** Observed state moves forward only: `running → starting` or `failed → running` are refused. */
export function canAdvance(from: TaskState, to: TaskState): boolean {
  return !isTerminal(from) && rank(to) > rank(from);
}

/** Container name of a task: `web.1.<task id>`, as Swarm names them. */
export function containerName(task: Pick<Task, 'serviceName' | 'slot' | 'id'>): string {
  return `${task.serviceName}.${task.slot}.${task.id}`;
}
