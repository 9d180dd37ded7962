/** Domain ↔ wire for health: the health spec and its probes, phase records and probe results. */
import type { HealthSpec, Phase, PhaseRecord, PhaseState, Probe, ProbeHandler, ProbeResult } from '@warren/core';
import type { TaskHealthRecords, ThrottledPolicy } from '@warren/core';
import { PROBE_DEFAULTS, isPhase, isPhaseStatus } from '@warren/core';
import type {
  HealthSpec as WireHealth,
  HealthSpec__Output as WireHealthOut,
} from './generated/warren/v1/HealthSpec.js';
import type { PhaseHealth, PhaseHealth__Output as PhaseHealthOut } from './generated/warren/v1/PhaseHealth.js';
import type { Probe as WireProbe, Probe__Output as WireProbeOut } from './generated/warren/v1/Probe.js';
import type {
  ProbeResult as WireResult,
  ProbeResult__Output as WireResultOut,
} from './generated/warren/v1/ProbeResult.js';

const PHASES = ['startup', 'liveness', 'readiness', 'check'] as const;

export function healthSpecToWire(spec: HealthSpec): WireHealth {
  const health: Record<string, WireProbe> = {};
  for (const phase of PHASES) {
    const probe = spec[phase];
    if (probe) health[phase] = probeToWire(probe);
  }
  return {
    ...health,
    ...(spec.fromImage ? { fromImage: true } : {}),
    ...(spec.throttled ? { throttled: spec.throttled } : {}),
  };
}

export function healthSpecFromWire(wire: WireHealthOut | null | undefined): HealthSpec {
  const health: HealthSpec = {};
  for (const phase of PHASES) {
    const probe = wire?.[phase];
    if (probe) health[phase] = probeFromWire(probe);
  }
  if (wire?.fromImage) health.fromImage = true;
  // As sent: validation refuses anything but the policies' names.
  if (wire?.throttled) health.throttled = wire.throttled as ThrottledPolicy;
  return health;
}

function probeToWire(probe: Probe): WireProbe {
  const h = probe.handler;
  const timing = {
    intervalMs: probe.intervalMs,
    timeoutMs: probe.timeoutMs,
    retries: probe.retries,
    successThreshold: probe.successThreshold,
    startPeriodMs: probe.startPeriodMs,
  };
  switch (h.kind) {
    case 'http': {
      const { path, port, scheme, headers, statusMin, statusMax } = h;
      return { ...timing, http: { path, port, scheme, headers, statusMin, statusMax } };
    }
    case 'tcp':
      return { ...timing, tcp: { port: h.port } };
    case 'exec':
      return { ...timing, exec: { command: h.command } };
    case 'grpc':
      return { ...timing, grpc: { port: h.port, service: h.service } };
  }
}

function probeFromWire(w: WireProbeOut): Probe {
  let handler: ProbeHandler;
  if (w.http) {
    handler = {
      kind: 'http',
      path: w.http.path || '/',
      port: w.http.port,
      scheme: w.http.scheme === 'https' ? 'https' : 'http',
      headers: w.http.headers.map((x) => ({ name: x.name, value: x.value })),
      statusMin: w.http.statusMin || 200,
      statusMax: w.http.statusMax || 399,
    };
  } else if (w.tcp) handler = { kind: 'tcp', port: w.tcp.port };
  else if (w.grpc) handler = { kind: 'grpc', port: w.grpc.port, service: w.grpc.service };
  else handler = { kind: 'exec', command: w.exec?.command ?? [] };
  return {
    handler,
    intervalMs: w.intervalMs || PROBE_DEFAULTS.intervalMs,
    timeoutMs: w.timeoutMs || PROBE_DEFAULTS.timeoutMs,
    retries: w.retries || PROBE_DEFAULTS.retries,
    successThreshold: w.successThreshold || PROBE_DEFAULTS.successThreshold,
    startPeriodMs: w.startPeriodMs || PROBE_DEFAULTS.startPeriodMs,
  };
}

export function phaseToWire(phase: Phase, state: PhaseState, results: readonly ProbeResult[]): PhaseHealth {
  return {
    phase,
    status: state.status,
    successStreak: state.successStreak,
    failureStreak: state.failureStreak,
    everSucceeded: state.everSucceeded,
    lastTransitionAtMs: state.lastTransitionAt,
    lastTransitionFrom: state.lastTransitionFrom,
    results: results.map(resultToWire),
  };
}

/** A phase as received, or undefined when its phase or status is not one Warren knows. */
export function phaseFromWire(w: PhaseHealthOut): (PhaseRecord & { phase: Phase }) | undefined {
  if (!isPhase(w.phase) || !isPhaseStatus(w.status)) return undefined;
  const from = w.lastTransitionFrom;
  return {
    phase: w.phase,
    status: w.status,
    successStreak: Math.max(0, w.successStreak),
    failureStreak: Math.max(0, w.failureStreak),
    everSucceeded: w.everSucceeded,
    lastTransitionAt: w.lastTransitionAtMs,
    lastTransitionFrom: isPhaseStatus(from) ? from : '',
    results: w.results.map(resultFromWire),
  };
}

/** The phases of a task sent by the manager, as the worker's prober seeds them. */
export function healthFromWire(phases: readonly PhaseHealthOut[]): TaskHealthRecords {
  const records: TaskHealthRecords = {};
  for (const w of phases) {
    const received = phaseFromWire(w);
    if (!received) continue;
    const { phase, ...record } = received;
    records[phase] = record;
  }
  return records;
}

function resultToWire(r: ProbeResult): WireResult {
  return {
    atMs: r.at,
    durationMs: r.durationMs,
    outcome: r.outcome,
    hasCode: r.code !== undefined,
    code: r.code ?? 0,
    output: r.output,
    counted: r.counted,
    throttledPercent: r.throttledPercent ?? 0,
    limitNanoCpus: r.limitNanoCpus ?? 0,
  };
}

/** A probe result as received (an unknown outcome's name becomes `unknown`). */
export function resultFromWire(w: WireResultOut): ProbeResult {
  const outcome = w.outcome === 'success' || w.outcome === 'failure' ? w.outcome : 'unknown';
  return {
    at: w.atMs,
    durationMs: Math.max(0, w.durationMs),
    outcome,
    ...(w.hasCode ? { code: w.code } : {}),
    output: w.output,
    counted: w.counted,
    ...(w.limitNanoCpus > 0
      ? { throttledPercent: Math.min(100, Math.max(0, w.throttledPercent)), limitNanoCpus: w.limitNanoCpus }
      : {}),
  };
}
