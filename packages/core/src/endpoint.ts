import { taskReady, type TaskHealthRecords } from './health.js';
import type { Task } from './task.js';

/**
 * Whether a task takes traffic (DESIGN 6): it should run, its node is up, and it is ready —
 * running, its readiness check healthy (or none), its startup check passed. The one rule behind
 * the ingress table, GetEndpoints and WatchEndpoints (and names, DESIGN 12).
 */
export function isEndpoint(task: Task, health: TaskHealthRecords, nodeUp: boolean): boolean {
  return task.desiredState === 'running' && nodeUp && taskReady(task.spec.health, health, task.state === 'running');
}
