import type { EventDraft } from '../events.js';
import type { Phase, TaskHealth } from '../health.js';
import type { Capacity } from '../resources.js';
import type { Service } from '../spec.js';
import type { Task } from '../task.js';

/** What the reconciler knows of a node. */
export interface NodeView {
  id: string;
  name: string;
  /** Connected and heartbeating: new tasks may be placed here. */
  ready: boolean;
  /** Declared down (missed heartbeats): its tasks are replaced elsewhere when possible. */
  down?: boolean;
  /** `drain`: tasks move away gracefully and none are placed here. */
  availability?: 'active' | 'drain';
  /** The node's worker cannot reach its Docker engine: its probe verdicts are not trusted. */
  engineTrouble?: boolean;
  images: readonly string[];
  /** CPUs and memory of its engine; undefined: not known (the node takes any reservation). */
  capacity?: Capacity;
  /** What the tasks on it reserve (tasks not ended, wherever the input leaves them out). */
  reserved?: Capacity;
}

/** A slot's replacement history: its failures in a row and when it may be filled again. */
export interface SlotState {
  serviceId: string;
  slot: number;
  /** Tasks of the slot that ended badly in a row (reset when the slot is forgiven). */
  failures: number;
  lastFailureAt: number;
  /** Not before this time is a new task created in the slot (0: at once). */
  nextAttemptAt: number;
  /**
   * The slot's streak of failures began or went on with a health verdict: until a task of the slot
   * is healthy (and, for good, until the slot is forgiven), it counts against the budget.
   */
  healthFailure: boolean;
  /** The slot reached --restart-max-attempts and is no longer filled. */
  gaveUp: boolean;
  lastReason: string;
}

/** What the reconciler remembers of a service between passes. */
export interface ServiceState {
  serviceId: string;
  /** Half or more of the service's tasks are failing their health checks together. */
  correlated: boolean;
  since: number;
}

/** A task's health, as the reconciler needs it. */
export interface TaskHealthView {
  status: TaskHealth;
  /** Startup or liveness is unhealthy: the task should be failed (if the budget allows). */
  failing?: { phase: Phase; reason: string; since: number };
  /** Since when the task has been healthy (its liveness or startup turned healthy). */
  healthySince?: number;
  /** The task has been healthy at some point since it started (it is, or it turned unhealthy from healthy). */
  wasHealthy?: boolean;
  /** Ready (in the service's endpoints): running, readiness passing or none, startup passed. */
  ready?: boolean;
  /** Since when it has been ready (its readiness or startup turned healthy, or it started running). */
  readySince?: number;
}

export interface ReconcileInput {
  services: readonly Service[];
  tasks: readonly Task[];
  nodes: readonly NodeView[];
  slots?: readonly SlotState[];
  serviceStates?: readonly ServiceState[];
  health?: ReadonlyMap<string, TaskHealthView>;
  now: number;
  newId: () => string;
  /**
   * Tasks that should run, per node, of the services this input leaves out (a pass over the
   * services that changed): placement weighs them with the input's own.
   */
  loadElsewhere?: ReadonlyMap<string, number>;
  /** Ended tasks kept per slot for `service ps`; default 5, as Swarm's task history limit. */
  historyLimit?: number;
}

export type Action = { type: 'create'; task: Task } | { type: 'update'; task: Task } | { type: 'delete'; task: Task };

export interface Plan {
  actions: Action[];
  slots: SlotState[];
  deletedSlots: Array<{ serviceId: string; slot: number }>;
  serviceStates: ServiceState[];
  deletedServiceStates: string[];
  /** Services whose record this pass changed (a rollout's progress, a rollback's spec). */
  services: Service[];
  events: EventDraft[];
  /** The next time a pass has something to do (a backoff that ends, a slot to forgive). */
  wakeAt?: number;
  /** The same, by service: a pass over some services only looks at those whose time came. */
  serviceWakes: Map<string, number>;
  /** Services with a task pending because no node has room for its reservation. */
  waitingForRoom: Set<string>;
}

export const DEFAULT_HISTORY_LIMIT = 5;
