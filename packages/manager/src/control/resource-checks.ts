import { ValidationError, formatCpus, type ServiceSpec } from '@warren/core';
import type { StoreView } from '../store/store.js';

/**
 * Refuses CPUs no node of the cluster has (the engine refuses such a limit, and such a reservation
 * could never be placed). Memory is not checked: a bigger node may join, and until then the task
 * is pending with the reason. A cluster whose nodes' capacity is not known refuses nothing.
 */
export function checkCpusExist(view: Pick<StoreView, 'nodes'>, spec: Pick<ServiceSpec, 'resources'>): void {
  if (!spec.resources) return;
  let most = 0;
  for (const n of view.nodes()) if (!n.removedAt && n.capacity) most = Math.max(most, n.capacity.nanoCpus);
  if (most === 0) return;
  for (const [flag, nanoCpus] of [
    ['--limit-cpu', spec.resources.limits.nanoCpus],
    ['--reserve-cpu', spec.resources.reservations.nanoCpus],
  ] as const) {
    if (nanoCpus > most) {
      throw new ValidationError(flag, formatCpus(nanoCpus), `no node has that many (the most: ${formatCpus(most)})`);
    }
  }
}
