import type { Task } from '@warren/core';

/** The labels on every container Warren runs; the one place they are built and read. */
export const LABEL = {
  node: 'warren.node.id',
  serviceId: 'warren.service.id',
  serviceName: 'warren.service.name',
  task: 'warren.task.id',
  slot: 'warren.task.slot',
} as const;

export function taskLabels(task: Task, nodeId: string): Record<string, string> {
  return {
    [LABEL.node]: nodeId,
    [LABEL.serviceId]: task.serviceId,
    [LABEL.serviceName]: task.serviceName,
    [LABEL.task]: task.id,
    [LABEL.slot]: String(task.slot),
  };
}
