import type {
  Capacity,
  EventDraft,
  Phase,
  PhaseRecord,
  RegistryAuth,
  Service,
  ServiceState,
  SlotState,
  Task,
  TaskHealthRecords,
  WarrenEvent,
} from '@warren/core';

export interface NodeRecord {
  id: string;
  name: string;
  hostname: string;
  registeredAt: number;
  lastSeenAt: number;
  /** Image tags and ids on the node, as last reported. */
  images: string[];
  /** `drain`: tasks move away and none are placed here. */
  availability: 'active' | 'drain';
  /** As declared by the node monitor. */
  status: 'ready' | 'down';
  /** Status changes, newest last (the last 20). */
  history: Array<{ at: number; status: string; reason: string }>;
  /** What its worker advertises (`--advertise-addr`); '' before workers told. */
  address?: string;
  /** Where its proxy listens (`--ingress-addr`). */
  ingressAddress?: string;
  /** `warren node rm`: from then on its certificate is refused and its tasks go elsewhere. */
  removedAt?: number;
  /** Its engine's CPUs and memory, as its worker last registered; absent: not known. */
  capacity?: Capacity;
}

export type Change =
  | { kind: 'putService'; service: Service }
  | { kind: 'deleteService'; service: Service }
  /** `reported`: what the task's own worker just told (nothing in it for that worker to hear back). */
  | { kind: 'putTask'; task: Task; reported?: boolean }
  | { kind: 'deleteTask'; task: Task }
  | { kind: 'putNode'; node: NodeRecord }
  /**
   * `record` holds the last results; `added` of them are new and get written. `coalesce`: no
   * transition, so a backend may write it with a later write (etcd: at most a second later).
   */
  | { kind: 'putHealth'; taskId: string; phase: Phase; record: PhaseRecord; added: number; coalesce?: boolean }
  | { kind: 'putSlot'; state: SlotState }
  | { kind: 'deleteSlot'; serviceId: string; slot: number }
  | { kind: 'putServiceState'; state: ServiceState }
  | { kind: 'deleteServiceState'; serviceId: string }
  /** Numbered and stamped by the store when the batch is written. */
  | { kind: 'event'; event: EventDraft }
  | { kind: 'putMeta'; key: string; value: string }
  /** --with-registry-auth: kept with the service, deleted with it; only workers ever get it. */
  | { kind: 'putAuth'; serviceId: string; auth: RegistryAuth };

export interface StoreView {
  services(): Iterable<Service>;
  service(id: string): Service | undefined;
  serviceByName(name: string): Service | undefined;
  tasks(): Iterable<Task>;
  task(id: string): Task | undefined;
  tasksOfService(serviceId: string): Task[];
  tasksOfNode(nodeId: string): Task[];
  /** Tasks on a node that should run and have not ended: its load, as placement weighs it. */
  liveTasksOnNode(nodeId: string): number;
  /** What the tasks on a node that have not ended reserve. */
  reservedOnNode(nodeId: string): Capacity;
  /** The health the manager knows of a task, per phase. */
  health(taskId: string): TaskHealthRecords;
  slots(): Iterable<SlotState>;
  slotsOfService(serviceId: string): SlotState[];
  serviceStates(): Iterable<ServiceState>;
  serviceState(serviceId: string): ServiceState | undefined;
  /** Kept events, oldest first. */
  events(): readonly WarrenEvent[];
  nodes(): Iterable<NodeRecord>;
  node(id: string): NodeRecord | undefined;
  nodeByName(name: string): NodeRecord | undefined;
  meta(key: string): string | undefined;
  /** The registry credentials kept for a service, if any. */
  registryAuth(serviceId: string): RegistryAuth | undefined;
}

export type CommitListener = (changes: readonly Change[], events: readonly WarrenEvent[]) => void;
