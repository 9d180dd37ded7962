/**
 * The `--format json` views of `service ls`, `ps` and `inspect`: plain objects with ISO times,
 * stable for scripts (DESIGN.md section 3).
 */
import { specFromWire, type wire } from '@warren/api/convert';
import { endpointPorts } from './service-ports.js';
import { updateStatusJson } from './service-update.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export function serviceJson(s: wire.ServiceOut) {
  const spec = specFromWire(s.spec);
  return {
    id: s.id,
    name: s.spec?.name ?? '',
    spec,
    /** The published ports (`spec.ports`), at the top as `docker service inspect` has them. */
    ports: spec.ports,
    /** Why `spec.image` is not pinned to a digest; '' when it is. */
    imageNote: s.imageNote,
    /** Registry credentials are kept for the workers (they are never sent back). */
    registryAuth: s.registryAuth,
    createdAt: iso(s.createdAtMs),
    updatedAt: iso(s.updatedAtMs),
    /** The last rollout (`service update`, `service rollback`); null when there was none. */
    updateStatus: updateStatusJson(s.updateStatus),
    /** The spec before the last update, which `service rollback` returns to; null when there is none. */
    previousSpec: s.previousSpec ? specFromWire(s.previousSpec) : null,
  };
}

/** `service ls --format json`. */
export function servicesJson(res: wire.ListServicesResponseOut) {
  return res.services.map((s) => ({ ...serviceJson(s.service!), running: s.running, desired: s.desired }));
}

export function taskJson(t: wire.TaskOut) {
  return {
    id: t.id,
    name: `${t.serviceName}.${t.slot}`,
    slot: t.slot,
    node: t.nodeName,
    nodeId: t.nodeId,
    /** The image of the spec this task runs (during a rollout, old and new tasks differ). */
    image: t.spec?.image ?? '',
    state: t.state,
    desiredState: t.desiredState,
    message: t.message,
    error: t.error,
    exitCode: t.hasExitCode ? t.exitCode : null,
    containerId: t.containerId,
    /** Where the node's proxies reach each published target port: `node address:host port`. */
    ports: t.ports.map((p) => ({ target: p.target, address: p.address })),
    health: t.healthStatus,
    ready: t.ready,
    phases: Object.fromEntries(
      t.health.map((p) => [
        p.phase,
        {
          status: p.status,
          successStreak: p.successStreak,
          failureStreak: p.failureStreak,
          lastTransitionAt: p.lastTransitionAtMs ? iso(p.lastTransitionAtMs) : null,
        },
      ]),
    ),
    results: resultsJson(t),
    createdAt: iso(t.createdAtMs),
    updatedAt: iso(t.updatedAtMs),
  };
}

/** `service inspect --format json`: the service, its tasks, endpoints and replacement state. */
export function serviceDetailJson(res: wire.ServiceDetailOut, now = Date.now()) {
  const spec = specFromWire(res.service!.spec);
  return {
    ...serviceJson(res.service!),
    tasks: res.tasks.map(taskJson),
    endpoints: res.endpoints.map((e) => ({
      taskId: e.taskId,
      slot: e.slot,
      nodeId: e.nodeId,
      node: e.nodeName,
      address: e.address,
      /** Each published port and where it goes on this endpoint (null: not reported yet). */
      ports: endpointPorts(spec, e),
    })),
    /** Nodes that cannot listen on a published port (or, published 0, on namePort by name), and why. */
    ingressProblems: res.ingressProblems.map((p) => ({
      nodeId: p.nodeId,
      node: p.nodeName,
      published: p.published,
      ...(p.published === 0 ? { namePort: p.namePort } : {}),
      error: p.error,
    })),
    replacement: {
      budget: res.replacementBudget,
      inFlight: res.replacementsInFlight,
      held: res.held,
      correlatedFailure: res.correlatedFailure,
      correlatedSince: res.correlatedFailure ? iso(res.correlatedSinceMs) : null,
      slots: res.slots.map((x) => ({
        slot: x.slot,
        failures: x.failures,
        nextAttemptAt: x.nextAttemptAtMs > now ? iso(x.nextAttemptAtMs) : null,
        gaveUp: x.gaveUp,
        lastReason: x.lastReason,
      })),
    },
  };
}

/** Results of all phases, oldest first; a run that fed two phases (--health-*) appears once. */
function resultsJson(t: wire.TaskOut) {
  const runs = new Map<string, { phases: string[]; r: wire.ProbeResultOut }>();
  for (const phase of t.health) {
    for (const r of phase.results) {
      const key = `${r.atMs}/${r.durationMs}/${r.outcome}`;
      const known = runs.get(key);
      if (known) known.phases.push(phase.phase);
      else runs.set(key, { phases: [phase.phase], r });
    }
  }
  return [...runs.values()]
    .sort((a, b) => a.r.atMs - b.r.atMs)
    .map(({ phases, r }) => ({
      time: iso(r.atMs),
      phases,
      durationMs: r.durationMs,
      outcome: r.outcome,
      code: r.hasCode ? r.code : null,
      output: r.output,
      counted: r.counted,
      /** With a CPU limit: the share of the run its container was CPU-throttled (null: not read). */
      throttledPercent: r.limitNanoCpus > 0 ? r.throttledPercent : null,
    }));
}
