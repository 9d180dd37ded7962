import {
  isEndpoint,
  isTerminal,
  replacementBudget,
  slotsOutForHealth,
  taskHealthView,
  type Service,
  type Task,
} from '@warren/core';
import type { wire } from '@warren/api';
import type { StoreView } from '../store/store.js';

/** Whether a node is up, as the ingress table counts it (IngressTables.nodeUp). */
export type NodeUp = (nodeId: string) => boolean;

/**
 * The endpoints of a service: its tasks that take traffic (core's isEndpoint: ready, on a node
 * that is up), as the ingress table has them. What a load balancer in front of Warren would read.
 */
export function endpointsOf(view: StoreView, service: Service, nodeUp: NodeUp): wire.Endpoint[] {
  return endpointTasks(view, service, nodeUp).map((t) => ({
    taskId: t.id,
    slot: t.slot,
    nodeId: t.nodeId,
    nodeName: view.node(t.nodeId)?.name ?? '',
    address: t.address,
    ports: t.ports ?? [],
  }));
}

/** The tasks behind endpointsOf and the ingress table, by slot. */
export function endpointTasks(view: StoreView, service: Service, nodeUp: NodeUp): Task[] {
  return view
    .tasksOfService(service.id)
    .filter((t) => isEndpoint(t, view.health(t.id), nodeUp(t.nodeId)))
    .sort((a, b) => a.slot - b.slot);
}

/** The replacement state of a service, for `service inspect`. */
export function replacementState(view: StoreView, service: Service) {
  const live = view.tasksOfService(service.id).filter((t) => t.desiredState === 'running' && !isTerminal(t.state));
  const ofService = view.slotsOfService(service.id);
  const slots = ofService.filter((s) => s.slot <= service.spec.replicas && (s.failures > 0 || s.gaveUp));
  // The reconciler's own count: slots without a running task because of health.
  const out = slotsOutForHealth(
    service.spec,
    ofService,
    live,
    (t) => taskHealthView(t.spec.health, view.health(t.id)),
    Date.now(),
  );
  const state = view.serviceState(service.id);
  return {
    slots: slots
      .sort((a, b) => a.slot - b.slot)
      .map((s) => ({
        slot: s.slot,
        failures: s.failures,
        nextAttemptAtMs: s.nextAttemptAt,
        gaveUp: s.gaveUp,
        lastReason: s.lastReason,
      })),
    correlatedFailure: state?.correlated ?? false,
    correlatedSinceMs: state?.correlated ? state.since : 0,
    replacementBudget: replacementBudget(service.spec),
    replacementsInFlight: out.size,
    held: live.filter((t) => t.held).length,
  };
}
