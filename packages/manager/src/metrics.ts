import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { isTerminal, taskHealth } from '@warren/core';
import type { HealthIngest } from './workers/health-ingest.js';
import type { IngressTables } from './ingress/tables.js';
import type { TaskDispatch } from './workers/task-dispatch.js';
import type { NodeSessions } from './workers/node-sessions.js';
import type { ReconcilerLoop } from './reconciler-loop.js';
import type { StatusStream } from './status/stream.js';
import type { Store } from './store/store.js';

/**
 * The manager's Prometheus metrics. Labels are bounded: services, health states, event types,
 * causes — never task ids.
 */
export function managerMetrics(deps: {
  store: Store;
  sessions: NodeSessions;
  health: HealthIngest;
  reconciler: ReconcilerLoop;
  streams: { health: number };
  ingress: IngressTables;
  dispatch: TaskDispatch;
  statusStream: Pick<StatusStream, 'pages'>;
}): Registry {
  const { store, sessions, health, reconciler } = deps;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  new Gauge({
    name: 'warren_tasks',
    help: 'Tasks that should run, by service and health (none, starting, healthy, unhealthy)',
    labelNames: ['service', 'health'] as const,
    registers,
    collect() {
      this.reset();
      for (const t of store.tasks()) {
        if (t.desiredState !== 'running' || isTerminal(t.state)) continue;
        this.inc({ service: t.serviceName, health: taskHealth(t.spec.health, store.health(t.id)) });
      }
    },
  });
  new Gauge({
    name: 'warren_status_streams_open',
    help: 'Status page event streams open now (a browser shares one among its tabs)',
    registers,
    collect() {
      this.set(deps.statusStream.pages);
    },
  });
  new Gauge({
    name: 'warren_tasks_held',
    help: 'Unhealthy tasks whose replacement is held back by the replacement budget, by service',
    labelNames: ['service'] as const,
    registers,
    collect() {
      this.reset();
      for (const t of store.tasks()) if (t.held && t.desiredState === 'running') this.inc({ service: t.serviceName });
    },
  });
  new Gauge({
    name: 'warren_nodes',
    help: 'Nodes by status (ready, down)',
    labelNames: ['status'] as const,
    registers,
    collect() {
      this.reset();
      this.set({ status: 'ready' }, 0);
      this.set({ status: 'down' }, 0);
      for (const n of store.nodes()) this.inc({ status: sessions.isReady(n.id) ? 'ready' : 'down' });
    },
  });
  new Gauge({
    name: 'warren_grpc_streams',
    help: 'Open worker streams, by kind (assignments, health)',
    labelNames: ['stream'] as const,
    registers,
    collect() {
      this.set({ stream: 'assignments' }, sessions.connected);
      this.set({ stream: 'health' }, deps.streams.health);
    },
  });
  new Counter({
    name: 'warren_health_results_total',
    help: 'Probe results received from workers and persisted',
    registers,
    collect() {
      this.reset();
      this.inc(health.resultsIngested);
    },
  });
  const events = new Counter({
    name: 'warren_events_total',
    help: 'Events, by type (replacements, backoff, budget holds, transitions …)',
    labelNames: ['type'] as const,
    registers,
  });
  const replacements = new Counter({
    name: 'warren_replacements_total',
    help: 'Tasks replaced, by cause (health, exited)',
    labelNames: ['cause'] as const,
    registers,
  });
  store.onCommit((_changes, committed) => {
    for (const e of committed) {
      events.inc({ type: e.type });
      if (e.type === 'task-replaced')
        replacements.inc({ cause: / probe failed: /.test(e.reason) ? 'health' : 'exited' });
    }
  });
  new Counter({
    name: 'warren_reconcile_passes_total',
    help: 'Reconciler passes',
    registers,
    collect() {
      this.reset();
      this.inc(reconciler.passes);
    },
  });
  const duration = new Histogram({
    name: 'warren_reconcile_duration_seconds',
    help: 'Reconciler pass duration',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers,
  });
  reconciler.onPass = (seconds) => duration.observe(seconds);
  ingressMetrics(registers, deps.ingress, deps.dispatch);
  return registry;
}

/** The ingress table, how far each proxy lags it, and the drains before stops. */
function ingressMetrics(registers: Registry[], ingress: IngressTables, dispatch: TaskDispatch): void {
  new Gauge({
    name: 'warren_ingress_table_version',
    help: 'Version of the ingress table the manager sends to every proxy',
    registers,
    collect() {
      this.set(ingress.version);
    },
  });
  new Gauge({
    name: 'warren_ingress_proxy_lag_versions',
    help: 'Versions of the ingress table a connected proxy has not confirmed yet, by node',
    labelNames: ['node'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of ingress.lag()) this.set({ node: l.node }, l.versions);
    },
  });
  new Gauge({
    name: 'warren_ingress_proxy_lag_seconds',
    help: 'How long ago the oldest ingress table a proxy has not confirmed was sent (0: up to date), by node',
    labelNames: ['node'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of ingress.lag()) this.set({ node: l.node }, l.seconds);
    },
  });
  const acks = new Histogram({
    name: 'warren_ingress_ack_seconds',
    help: 'From sending an ingress table to a proxy confirming it',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    registers,
  });
  ingress.onAck = (seconds) => acks.observe(seconds);
  new Counter({
    name: 'warren_drains_total',
    help: 'Stops of tasks with published ports, by how their drain ended (confirmed by every proxy, timed out)',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'confirmed' }, dispatch.drains.confirmed);
      this.inc({ outcome: 'timed_out' }, dispatch.drains.timedOut);
    },
  });
  const drained = new Histogram({
    name: 'warren_drain_seconds',
    help: 'From deciding to stop a task with published ports to sending its stop (the drain)',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5],
    registers,
  });
  dispatch.onDrained = (seconds) => drained.observe(seconds);
}
