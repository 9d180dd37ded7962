import type { Component } from '@warren/api';

/**
 * What a worker's /health reports on: its Docker engine (critical: without it nothing runs) and
 * its manager (not critical: containers and probes keep running while it is cut off); its service
 * names (not critical: without them containers keep Docker's resolvers).
 */
export function workerComponents(deps: {
  manager: string;
  ping: () => Promise<void>;
  connected: () => boolean;
  cutOffSince: () => number;
  names: () => { dns: string | undefined; problem: string };
}): Component[] {
  const { manager } = deps;
  return [
    {
      name: 'docker',
      critical: true,
      check: async () => {
        await deps.ping();
        return { status: 'healthy', message: 'the engine answers' };
      },
    },
    {
      name: 'manager',
      critical: false,
      check: async () => {
        if (deps.connected()) return { status: 'healthy', message: `connected to ${manager}` };
        const since = deps.cutOffSince();
        const cutOff = `cut off from ${manager}${since ? ` for ${Date.now() - since} ms` : ''}`;
        return { status: 'degraded', message: `${cutOff}; containers and probes keep running` };
      },
    },
    {
      name: 'names',
      critical: false,
      check: () => {
        const { dns, problem } = deps.names();
        if (dns) return Promise.resolve({ status: 'healthy', message: `containers resolve service names at ${dns}` });
        return Promise.resolve({ status: 'degraded', message: `service names are off on this node: ${problem}` });
      },
    },
  ];
}
