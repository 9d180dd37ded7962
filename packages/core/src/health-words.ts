/** A service's checks in words, as `service inspect` and the status page show them. */
import { formatDuration } from './duration.js';
import type { ProbeRun } from './health.js';

/** `HTTP GET http://<task>:8080/health expecting 200-399; every 2s, timeout 1s, …; replaced when unhealthy`. */
export function describeProbeRun(run: ProbeRun): string {
  const p = run.probe;
  const h = p.handler;
  const check =
    h.kind === 'http'
      ? `HTTP GET ${h.scheme}://<task>:${h.port}${h.path} expecting ${h.statusMin}-${h.statusMax}` +
        h.headers.map((x) => `, ${x.name}: ${x.value}`).join('')
      : h.kind === 'tcp'
        ? `TCP connect to port ${h.port}`
        : h.kind === 'grpc'
          ? `gRPC health check on port ${h.port}${h.service ? ` for "${h.service}"` : ''}`
          : `exec ${JSON.stringify(h.command)} exiting 0`;
  const timing = [
    `every ${formatDuration(p.intervalMs)}`,
    `timeout ${formatDuration(p.timeoutMs)}`,
    `unhealthy after ${p.retries} failure${p.retries === 1 ? '' : 's'}`,
    ...(p.successThreshold > 1 ? [`healthy after ${p.successThreshold} successes`] : []),
    ...(p.startPeriodMs > 0 ? [`start period ${formatDuration(p.startPeriodMs)}`] : []),
  ];
  const replaces = run.phases.includes('liveness') || run.phases.includes('startup');
  const effect = replaces ? 'replaced when unhealthy' : 'out of endpoints when unhealthy';
  return `${check}; ${timing.join(', ')}; ${effect}`;
}
