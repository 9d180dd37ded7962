import type { ContainerRuntime } from './runtime.js';

/** What a stopped worker left running for the next start to adopt. */
export interface LeftRunning {
  containers: number;
  services: string[];
}

/** How long a stopping worker waits for the engine to list what it leaves running. */
const PATIENCE_MS = 2000;

/**
 * The running containers of node `nodeId` and their services, as a worker leaves them when it
 * stops; undefined when the engine does not answer within PATIENCE_MS.
 */
export async function leftRunning(runtime: ContainerRuntime, nodeId: string): Promise<LeftRunning | undefined> {
  if (!nodeId) return { containers: 0, services: [] };
  const timeout = AbortSignal.timeout(PATIENCE_MS);
  const gaveUp = new Promise<undefined>((resolve) => timeout.addEventListener('abort', () => resolve(undefined)));
  const listed = runtime.containersOfNode(nodeId).then(
    (containers) => {
      const running = containers.filter((c) => c.state === 'running');
      return { containers: running.length, services: [...new Set(running.map((c) => c.serviceName))].sort() };
    },
    () => undefined,
  );
  return Promise.race([listed, gaveUp]);
}
