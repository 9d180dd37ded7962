import { registryAuthToWire, taskToWire, type wire } from '@warren/api';
import type { Task } from '@warren/core';
import type { StoreView } from '../store/store.js';

/**
 * What a worker is sent about its tasks: the tasks (with the health the manager knows) and the
 * registry credentials of their services that have them — only to the nodes that run them.
 */
export function assignments(
  view: StoreView,
  nodeName: string,
  tasks: readonly Task[],
  removedTaskIds: string[] = [],
  full = false,
): wire.AssignmentsMessage {
  const auths: wire.ServiceAuth[] = [];
  for (const serviceId of new Set(tasks.filter((t) => t.desiredState === 'running').map((t) => t.serviceId))) {
    const auth = view.registryAuth(serviceId);
    if (auth) auths.push({ serviceId, registryAuth: registryAuthToWire(auth) });
  }
  return {
    full,
    tasks: tasks.map((t) => taskToWire(t, nodeName, view.health(t.id))),
    removedTaskIds,
    auths,
    imageQueries: [],
  };
}
