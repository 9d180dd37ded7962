import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProberOptions } from './prober/prober.js';

/** What the gauges read from the worker, at each scrape. */
export interface WorkerMetricsState {
  probedTasks: () => number;
  connected: () => boolean;
  reportBacklog: () => number;
}

/** The worker's Prometheus metrics. Labels are bounded: probe and handler kinds, outcomes. */
export function workerMetrics(state: WorkerMetricsState): {
  registry: Registry;
  onRun: NonNullable<ProberOptions['onRun']>;
} {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const duration = new Histogram({
    name: 'warren_probe_duration_seconds',
    help: 'Probe run duration, by probe (startup, liveness, readiness, check) and handler (http, tcp, exec, grpc)',
    labelNames: ['probe', 'handler'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const results = new Counter({
    name: 'warren_probe_results_total',
    help: 'Probe results, by probe, handler and outcome',
    labelNames: ['probe', 'handler', 'outcome'] as const,
    registers,
  });
  const lag = new Histogram({
    name: 'warren_probe_lag_seconds',
    help: 'How late probe runs start against their plan',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    registers,
  });
  new Gauge({
    name: 'warren_probed_tasks',
    help: 'Tasks being probed',
    registers,
    collect() {
      this.set(state.probedTasks());
    },
  });
  new Gauge({
    name: 'warren_manager_connected',
    help: '1 while the assignment stream to the manager is open',
    registers,
    collect() {
      this.set(state.connected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'warren_status_reports_pending',
    help: 'Task state reports waiting for the manager',
    registers,
    collect() {
      this.set(state.reportBacklog());
    },
  });
  return {
    registry,
    onRun: (run, outcome, durationMs, lagMs) => {
      const labels = { probe: run.name, handler: run.probe.handler.kind };
      duration.observe(labels, durationMs / 1000);
      results.inc({ ...labels, outcome });
      lag.observe(lagMs / 1000);
    },
  };
}
