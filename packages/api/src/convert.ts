/**
 * Domain ↔ wire. The domain types (packages/core) are complete and typed; wire messages have
 * proto3 zero values for "unset". Every message from the network goes through a `*FromWire`
 * function, which applies defaults; validation is core's `validateServiceSpec`.
 */
import type { HealthSpec, Phase, PhaseRecord, PhaseState, Probe, ProbeHandler, ProbeResult } from '@warren/core';
import type { Service, ServiceSpec, Task, TaskHealthRecords, WarrenEvent } from '@warren/core';
import { PROBE_DEFAULTS, RESTART_DEFAULTS, SPEC_DEFAULTS } from '@warren/core';
import { isPhase, isPhaseStatus, taskHealth, taskReady } from '@warren/core';
import type { Event as WireEvent } from './generated/warren/v1/Event.js';
import type { PhaseHealth, PhaseHealth__Output as PhaseHealthOut } from './generated/warren/v1/PhaseHealth.js';
import type {
  ProbeResult as WireResult,
  ProbeResult__Output as WireResultOut,
} from './generated/warren/v1/ProbeResult.js';
import type { HealthSpec__Output as WireHealthOut } from './generated/warren/v1/HealthSpec.js';
import type { Probe as WireProbe, Probe__Output as WireProbeOut } from './generated/warren/v1/Probe.js';
import type { Service as WireService } from './generated/warren/v1/Service.js';
import type {
  ServiceSpec as WireSpec,
  ServiceSpec__Output as WireSpecOut,
} from './generated/warren/v1/ServiceSpec.js';
import type { Task as WireTask, Task__Output as WireTaskOut } from './generated/warren/v1/Task.js';

const PHASES = ['startup', 'liveness', 'readiness', 'check'] as const;

export function specToWire(spec: ServiceSpec): WireSpec {
  const health: Record<string, WireProbe> = {};
  for (const phase of PHASES) {
    const probe = spec.health[phase];
    if (probe) health[phase] = probeToWire(probe);
  }
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    command: spec.command,
    env: spec.env,
    network: spec.network,
    stopTimeoutMs: spec.stopTimeoutMs,
    health,
    restart: {
      delayMs: spec.restart.delayMs,
      maxDelayMs: spec.restart.maxDelayMs,
      maxAttempts: spec.restart.maxAttempts,
      windowMs: spec.restart.windowMs,
    },
    maxReplacing: spec.maxReplacing,
    mounts: spec.mounts,
  };
}

/** A spec as received; not yet validated. */
export function specFromWire(wire: WireSpecOut | null | undefined): ServiceSpec {
  const w = wire ?? ({} as Partial<WireSpecOut>);
  return {
    name: w.name ?? '',
    image: w.image ?? '',
    replicas: w.replicas ?? 0,
    command: w.command ?? [],
    env: w.env ?? [],
    network: w.network || SPEC_DEFAULTS.network,
    stopTimeoutMs: optional(w, 'stopTimeoutMs') ?? SPEC_DEFAULTS.stopTimeoutMs,
    health: healthSpecFromWire(w.health),
    restart: {
      delayMs: optional(w.restart, 'delayMs') ?? RESTART_DEFAULTS.delayMs,
      maxDelayMs: optional(w.restart, 'maxDelayMs') ?? RESTART_DEFAULTS.maxDelayMs,
      maxAttempts: optional(w.restart, 'maxAttempts') ?? RESTART_DEFAULTS.maxAttempts,
      windowMs: optional(w.restart, 'windowMs') ?? RESTART_DEFAULTS.windowMs,
    },
    maxReplacing: w.maxReplacing ?? 0,
    mounts: (w.mounts ?? []).map((m) => ({ source: m.source, target: m.target, readonly: m.readonly })),
  };
}

/**
 * A proto3 `optional` field as sent: its value when the sender set it (zero included),
 * undefined when it did not. proto-loader marks a set field with its oneof `_name`.
 */
function optional<K extends string>(
  message: Partial<Record<K | `_${K}`, unknown>> | null | undefined,
  field: K,
): number | undefined {
  if (!message || message[`_${field}`] !== field) return undefined;
  const value = message[field];
  return typeof value === 'number' ? value : undefined;
}

function healthSpecFromWire(wire: WireHealthOut | null | undefined): HealthSpec {
  const health: HealthSpec = {};
  for (const phase of PHASES) {
    const probe = wire?.[phase];
    if (probe) health[phase] = probeFromWire(probe);
  }
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

export function serviceToWire(service: Service): WireService {
  return {
    id: service.id,
    spec: specToWire(service.spec),
    createdAtMs: service.createdAt,
    updatedAtMs: service.updatedAt,
  };
}

export function taskToWire(task: Task, nodeName = '', health: TaskHealthRecords = {}): WireTask {
  const running = task.state === 'running' && task.desiredState === 'running';
  return {
    id: task.id,
    serviceId: task.serviceId,
    serviceName: task.serviceName,
    slot: task.slot,
    nodeId: task.nodeId,
    nodeName,
    desiredState: task.desiredState,
    state: task.state,
    message: task.message,
    error: task.error,
    hasExitCode: task.exitCode !== undefined,
    exitCode: task.exitCode ?? 0,
    containerId: task.containerId,
    address: task.address,
    startedAtMs: task.startedAt,
    replacing: task.replacing,
    held: task.held,
    createdAtMs: task.createdAt,
    updatedAtMs: task.updatedAt,
    spec: specToWire(task.spec),
    health: Object.entries(health).map(([phase, record]) => phaseToWire(phase as Phase, record, record.results)),
    healthStatus: taskHealth(task.spec.health, health),
    ready: taskReady(task.spec.health, health, running),
  };
}

/** A task as the worker gets it: with its node's name and the health the manager knows. */
export type AssignedTask = Task & { nodeName: string; health: TaskHealthRecords };

/** A task as sent by the manager (trusted: the manager validated it when it stored it). */
export function taskFromWire(w: WireTaskOut): AssignedTask {
  return {
    health: healthFromWire(w.health),
    id: w.id,
    serviceId: w.serviceId,
    serviceName: w.serviceName,
    slot: w.slot,
    nodeId: w.nodeId,
    nodeName: w.nodeName,
    desiredState: w.desiredState === 'shutdown' ? 'shutdown' : 'running',
    state: w.state as Task['state'],
    message: w.message,
    error: w.error,
    ...(w.hasExitCode ? { exitCode: w.exitCode } : {}),
    containerId: w.containerId,
    address: w.address,
    startedAt: w.startedAtMs,
    replacing: w.replacing,
    held: w.held,
    createdAt: w.createdAtMs,
    updatedAt: w.updatedAtMs,
    spec: specFromWire(w.spec),
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
  };
}

function resultFromWire(w: WireResultOut): ProbeResult {
  const outcome = w.outcome === 'success' || w.outcome === 'failure' ? w.outcome : 'unknown';
  return {
    at: w.atMs,
    durationMs: Math.max(0, w.durationMs),
    outcome,
    ...(w.hasCode ? { code: w.code } : {}),
    output: w.output,
    counted: w.counted,
  };
}

export function eventToWire(e: WarrenEvent): WireEvent {
  return {
    seq: e.seq,
    atMs: e.at,
    type: e.type,
    service: e.service,
    serviceId: e.serviceId,
    taskId: e.taskId ?? '',
    slot: e.slot ?? 0,
    nodeId: e.nodeId ?? '',
    reason: e.reason,
    data: Object.fromEntries(Object.entries(e.data ?? {}).map(([k, v]) => [k, String(v)])),
  };
}
