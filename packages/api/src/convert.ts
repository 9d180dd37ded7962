/**
 * Domain ↔ wire. The domain types (packages/core) are complete and typed; wire messages have
 * proto3 zero values for "unset". Every message from the network goes through a `*FromWire`
 * function, which applies defaults; validation is core's `validateServiceSpec`.
 */
import type { HealthSpec, Probe, ProbeHandler, Service, ServiceSpec, Task } from '@warren/core';
import { PROBE_DEFAULTS, SPEC_DEFAULTS } from '@warren/core';
import type { HealthSpec__Output as WireHealthOut } from './generated/warren/v1/HealthSpec.js';
import type { Probe as WireProbe, Probe__Output as WireProbeOut } from './generated/warren/v1/Probe.js';
import type { Service as WireService } from './generated/warren/v1/Service.js';
import type { ServiceSpec as WireSpec, ServiceSpec__Output as WireSpecOut } from './generated/warren/v1/ServiceSpec.js';
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
    stopTimeoutMs: w._stopTimeoutMs === 'stopTimeoutMs' && w.stopTimeoutMs !== undefined ? w.stopTimeoutMs : SPEC_DEFAULTS.stopTimeoutMs,
    health: healthFromWire(w.health),
  };
}

function healthFromWire(wire: WireHealthOut | null | undefined): HealthSpec {
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
    case 'http':
      return { ...timing, http: { path: h.path, port: h.port, scheme: h.scheme, headers: h.headers, statusMin: h.statusMin, statusMax: h.statusMax } };
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
  return { id: service.id, spec: specToWire(service.spec), createdAtMs: service.createdAt, updatedAtMs: service.updatedAt };
}

export function taskToWire(task: Task, nodeName = ''): WireTask {
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
    createdAtMs: task.createdAt,
    updatedAtMs: task.updatedAt,
    spec: specToWire(task.spec),
  };
}

/** A task as sent by the manager (trusted: the manager validated it when it stored it). */
export function taskFromWire(w: WireTaskOut): Task & { nodeName: string } {
  return {
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
    createdAt: w.createdAtMs,
    updatedAt: w.updatedAtMs,
    spec: specFromWire(w.spec),
  };
}
