/** A fake world for the pure reconciler: a clock, ids, and its plans applied. */
import {
  addCapacity,
  isTerminal,
  reconcile,
  reservationOf,
  type Capacity,
  type Action,
  type EventDraft,
  type NodeView,
  type Plan,
  type Service,
  type ServiceSpec,
  type ServiceState,
  type SlotState,
  type Task,
  type TaskHealthView,
  type UpdateState,
  type UpdateStatus,
} from '@warren/core';
import { testSpec } from './spec.js';

/** A fake world: a clock, sequential ids, and the reconciler's actions applied to it. */
export class World {
  now = 1_000_000;
  services: Service[] = [];
  tasks: Task[] = [];
  nodes: NodeView[] = [{ id: 'n1', name: 'node-1', ready: true, images: ['warren-test:latest'] }];
  slots: SlotState[] = [];
  serviceStates: ServiceState[] = [];
  health = new Map<string, TaskHealthView>();
  events: EventDraft[] = [];
  lastPlan?: Plan;
  #next = 0;

  service(name: string, replicas: number, image = 'warren-test:latest', over: Partial<ServiceSpec> = {}): Service {
    const s: Service = {
      id: `svc-${name}`,
      spec: testSpec({ name, image, replicas, ...over }),
      createdAt: this.now,
      updatedAt: this.now,
    };
    this.services = [...this.services.filter((x) => x.id !== s.id), s];
    return s;
  }

  pass(): Action[] {
    const plan = reconcile({
      services: this.services,
      tasks: this.tasks,
      // What the manager's store counts: the reservations of the tasks on a node that have not ended.
      nodes: this.nodes.map((n) => (n.capacity ? { ...n, reserved: this.reserved(n.id) } : n)),
      slots: this.slots,
      serviceStates: this.serviceStates,
      health: this.health,
      now: this.now,
      newId: () => `t${++this.#next}`,
    });
    for (const a of plan.actions) {
      this.tasks = this.tasks.filter((t) => t.id !== a.task.id);
      if (a.type !== 'delete') this.tasks.push(a.task);
    }
    const key = (s: { serviceId: string; slot: number }) => `${s.serviceId}/${s.slot}`;
    const gone = new Set([...plan.slots, ...plan.deletedSlots].map(key));
    this.slots = [...this.slots.filter((s) => !gone.has(key(s))), ...plan.slots];
    this.serviceStates = [
      ...this.serviceStates.filter(
        (s) =>
          !plan.serviceStates.some((x) => x.serviceId === s.serviceId) &&
          !plan.deletedServiceStates.includes(s.serviceId),
      ),
      ...plan.serviceStates,
    ];
    const changed = new Map(plan.services.map((s) => [s.id, s]));
    this.services = this.services.map((s) => changed.get(s.id) ?? s);
    this.events.push(...plan.events);
    this.lastPlan = plan;
    return plan.actions;
  }

  reserved(nodeId: string): Capacity {
    return this.tasks
      .filter((t) => t.nodeId === nodeId && !isTerminal(t.state))
      .map((t) => reservationOf(t.spec))
      .reduce(addCapacity, { nanoCpus: 0, memoryBytes: 0 });
  }

  /** A worker's report that the task runs. */
  run(id: string): void {
    this.observe(id, { state: 'running', startedAt: this.now });
  }

  /** The task's liveness turned unhealthy (as the health ingest records it). */
  unhealthy(id: string, reason = 'liveness probe failed: HTTP 500'): void {
    const before = this.health.get(id);
    const wasHealthy = before?.status === 'healthy' || before?.wasHealthy === true;
    this.health.set(id, { status: 'unhealthy', failing: { phase: 'liveness', reason, since: this.now }, wasHealthy });
  }

  healthy(id: string): void {
    this.health.set(id, { status: 'healthy', healthySince: this.now, wasHealthy: true });
  }

  /** The task runs (if it did not yet), and is healthy and ready from now on. */
  good(id: string): void {
    if (this.tasks.find((t) => t.id === id)?.state !== 'running') this.run(id);
    this.health.set(id, {
      status: 'healthy',
      healthySince: this.now,
      wasHealthy: true,
      ready: true,
      readySince: this.now,
    });
  }

  /** `service update`, as the manager stores it: the new spec, the old one kept, a rollout started. */
  update(change: Partial<ServiceSpec>, service = 'svc-web'): Service {
    return this.#restate(service, (s) => ({ spec: { ...s.spec, ...change }, previousSpec: s.spec }), 'updating');
  }

  /** `service rollback`, as the manager stores it: back to the previous spec, a rollback started. */
  rollback(service = 'svc-web'): Service {
    return this.#restate(service, (s) => ({ spec: s.previousSpec!, previousSpec: s.spec }), 'rollback_started');
  }

  #restate(id: string, specs: (s: Service) => Partial<Service>, state: UpdateState): Service {
    const before = this.services.find((s) => s.id === id)!;
    const update = {
      state,
      startedAt: this.now,
      completedAt: 0,
      message: '',
      succeeded: [],
      failed: [],
      batchDoneAt: 0,
    };
    const after: Service = { ...before, ...specs(before), update, updatedAt: this.now };
    this.services = this.services.map((s) => (s.id === id ? after : s));
    return after;
  }

  /** The service's rollout as the reconciler left it. */
  status(service = 'svc-web'): UpdateStatus | undefined {
    return this.services.find((s) => s.id === service)?.update;
  }

  slot(n: number, service = 'svc-web'): SlotState | undefined {
    return this.slots.find((s) => s.serviceId === service && s.slot === n);
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }

  /** What a worker would report. */
  observe(id: string, change: Partial<Task>): void {
    this.tasks = this.tasks.map((t) => (t.id === id ? { ...t, ...change, updatedAt: this.now } : t));
  }

  live(service = 'svc-web'): Task[] {
    return this.tasks
      .filter((t) => t.serviceId === service && t.desiredState === 'running')
      .sort((a, b) => a.slot - b.slot);
  }
}
