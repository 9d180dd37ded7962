import { formatBytes, type ServiceSpec } from '@warren/core';
import type { ContainerRuntime, TaskContainer } from './runtime.js';

/**
 * Why a task's container ended badly, in words: `out of memory (limit 64 MiB)` when the engine
 * killed it for its memory limit, else `container exited with code 2: <its last line>`.
 */
export async function exitReason(
  runtime: Pick<ContainerRuntime, 'oomKilled' | 'lastLogLine'>,
  container: TaskContainer,
  spec: Pick<ServiceSpec, 'resources'>,
): Promise<string> {
  // Seen through a `die` event, the container was listed before it exited: ask the engine.
  const oom = container.oomKilled ?? (await runtime.oomKilled(container.id).catch(() => false));
  if (oom) {
    const limit = spec.resources?.limits.memoryBytes ?? 0;
    return `out of memory (${limit > 0 ? `limit ${formatBytes(limit)}` : 'no limit set: the node ran out'})`;
  }
  const said = await runtime.lastLogLine(container.id);
  return `container exited with code ${container.exitCode}${said ? `: ${said}` : ''}`;
}
