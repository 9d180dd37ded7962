/**
 * Domain ↔ wire. The domain types (packages/core) are complete and typed; wire messages have
 * proto3 zero values for "unset". Every message from the network goes through a `*FromWire`
 * function, which applies defaults; validation is core's `validateServiceSpec`. Health specs,
 * phases and results convert in convert-health.ts.
 */
import type { Phase, RegistryAuth, Service, ServiceSpec, Task, TaskHealthRecords, WarrenEvent } from '@warren/core';
import {
  RESTART_DEFAULTS,
  ROLLBACK_DEFAULTS,
  SPEC_DEFAULTS,
  UPDATE_DEFAULTS,
  taskHealth,
  taskReady,
} from '@warren/core';
import type { Resources, UpdatePolicy } from '@warren/core';
import { hasResources } from '@warren/core';
import type {
  Resources as WireResources,
  Resources__Output as WireResourcesOut,
} from './generated/warren/v1/Resources.js';
import type { UpdatePolicy__Output as WirePolicyOut } from './generated/warren/v1/UpdatePolicy.js';
import { healthFromWire, healthSpecFromWire, healthSpecToWire, phaseToWire } from './convert-health.js';
import type { Event as WireEvent } from './generated/warren/v1/Event.js';
import type {
  RegistryAuth as WireAuth,
  RegistryAuth__Output as WireAuthOut,
} from './generated/warren/v1/RegistryAuth.js';
import type { Service as WireService } from './generated/warren/v1/Service.js';
import type {
  ServiceSpec as WireSpec,
  ServiceSpec__Output as WireSpecOut,
} from './generated/warren/v1/ServiceSpec.js';
import type { Task as WireTask, Task__Output as WireTaskOut } from './generated/warren/v1/Task.js';

export function specToWire(spec: ServiceSpec): WireSpec {
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    command: spec.command,
    env: spec.env,
    network: spec.network,
    stopTimeoutMs: spec.stopTimeoutMs,
    health: healthSpecToWire(spec.health),
    restart: {
      delayMs: spec.restart.delayMs,
      maxDelayMs: spec.restart.maxDelayMs,
      maxAttempts: spec.restart.maxAttempts,
      windowMs: spec.restart.windowMs,
    },
    maxReplacing: spec.maxReplacing,
    mounts: spec.mounts,
    pull: spec.pull,
    ports: spec.ports,
    expose: spec.expose ?? [],
    update: spec.update,
    rollback: spec.rollback,
    forceUpdate: spec.forceUpdate,
    noHealthcheck: spec.noHealthcheck === true,
    stack: spec.stack ?? '',
    resources: spec.resources ? resourcesToWire(spec.resources) : null,
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
    pull: (w.pull || SPEC_DEFAULTS.pull) as ServiceSpec['pull'],
    // The protocol as sent (validation refuses anything but tcp); unset means tcp.
    ports: (w.ports ?? []).map((p) => ({
      published: p.published,
      target: p.target,
      protocol: (p.protocol || 'tcp') as 'tcp',
    })),
    ...(w.expose?.length ? { expose: [...w.expose] } : {}),
    update: policyFromWire(w.update, UPDATE_DEFAULTS),
    rollback: policyFromWire(w.rollback, ROLLBACK_DEFAULTS),
    forceUpdate: w.forceUpdate ?? 0,
    ...(w.noHealthcheck ? { noHealthcheck: true } : {}),
    ...(w.stack ? { stack: w.stack } : {}),
    ...resourcesFromWire(w.resources),
  };
}

function resourcesToWire(r: Resources): WireResources {
  return {
    limitNanoCpus: r.limits.nanoCpus,
    limitMemoryBytes: r.limits.memoryBytes,
    limitPids: r.limits.pids,
    reserveNanoCpus: r.reservations.nanoCpus,
    reserveMemoryBytes: r.reservations.memoryBytes,
  };
}

/** Resources as sent; absent when nothing is set. Not yet validated. */
function resourcesFromWire(w: WireResourcesOut | null | undefined): { resources?: Resources } {
  if (!w) return {};
  const resources: Resources = {
    limits: { nanoCpus: w.limitNanoCpus, memoryBytes: w.limitMemoryBytes, pids: w.limitPids },
    reservations: { nanoCpus: w.reserveNanoCpus, memoryBytes: w.reserveMemoryBytes },
  };
  return hasResources(resources) ? { resources } : {};
}

/** An update policy as sent; unset fields take the defaults. Not yet validated. */
function policyFromWire(w: WirePolicyOut | null | undefined, defaults: UpdatePolicy): UpdatePolicy {
  return {
    parallelism: optional(w, 'parallelism') ?? defaults.parallelism,
    delayMs: optional(w, 'delayMs') ?? defaults.delayMs,
    monitorMs: optional(w, 'monitorMs') ?? defaults.monitorMs,
    failureAction: (w?.failureAction || defaults.failureAction) as UpdatePolicy['failureAction'],
    maxFailureRatio: optional(w, 'maxFailureRatio') ?? defaults.maxFailureRatio,
    order: (w?.order || defaults.order) as UpdatePolicy['order'],
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

/** A service as the CLI sees it: whether credentials are kept is said, the credentials never are. */
export function serviceToWire(service: Service, hasRegistryAuth = false): WireService {
  return {
    id: service.id,
    spec: specToWire(service.spec),
    createdAtMs: service.createdAt,
    updatedAtMs: service.updatedAt,
    imageNote: service.imageNote ?? '',
    registryAuth: hasRegistryAuth,
    ...(service.previousSpec ? { previousSpec: specToWire(service.previousSpec) } : {}),
    ...(service.update
      ? {
          updateStatus: {
            state: service.update.state,
            startedAtMs: service.update.startedAt,
            completedAtMs: service.update.completedAt,
            message: service.update.message,
            succeeded: service.update.succeeded.length,
            failed: service.update.failed.length,
          },
        }
      : {}),
  };
}

/** `brief`: without its spec and probe results (a table's row: the health and readiness it comes to). */
export function taskToWire(task: Task, nodeName = '', health: TaskHealthRecords = {}, brief = false): WireTask {
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
    ports: task.ports ?? [],
    startedAtMs: task.startedAt,
    replacing: task.replacing,
    held: task.held,
    createdAtMs: task.createdAt,
    updatedAtMs: task.updatedAt,
    spec: brief ? null : specToWire(task.spec),
    health: brief
      ? []
      : Object.entries(health).map(([phase, record]) => phaseToWire(phase as Phase, record, record.results)),
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
    ...(w.ports.length > 0 ? { ports: w.ports.map((p) => ({ target: p.target, address: p.address })) } : {}),
    startedAt: w.startedAtMs,
    replacing: w.replacing,
    held: w.held,
    createdAt: w.createdAtMs,
    updatedAt: w.updatedAtMs,
    spec: specFromWire(w.spec),
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

export function registryAuthToWire(auth: RegistryAuth): WireAuth {
  return { username: auth.username, password: auth.password, serverAddress: auth.serverAddress };
}

/** Credentials as received, or undefined when none were sent. */
export function registryAuthFromWire(w: WireAuthOut | null | undefined): RegistryAuth | undefined {
  if (!w || (w.username === '' && w.password === '')) return undefined;
  return { username: w.username, password: w.password, serverAddress: w.serverAddress };
}
