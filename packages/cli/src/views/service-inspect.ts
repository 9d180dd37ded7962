/** The text view of `service inspect`: the configuration in words, then the live tasks. */
import {
  describeProbeRun,
  describeResult,
  describeUpdatePolicy,
  formatAge,
  hasResources,
  resourcesText,
  throttledPolicyWords,
  formatDuration,
  probeRuns,
  serviceChecks,
  servedTargets,
  type Phase,
  type ServiceSpec,
} from '@warren/core';
import { healthSpecFromWire, resultFromWire, specFromWire, type wire } from '@warren/api/convert';
import { ago, fields, indent, shortId, table } from '../output.js';
import { nextAttempt } from './service-list.js';
import { endpointsText, ingressProblemsText, namesText, portsText } from './service-ports.js';
import { previousSpecText, updateStatusText } from './service-update.js';

type Line = [string, string];

export function serviceDetailText(detail: wire.ServiceDetailOut, now = Date.now()): string {
  const service = detail.service!;
  const declared = specFromWire(service.spec);
  const live = detail.tasks.filter((t) => t.desiredState === 'running');
  // Without checks of its own, the service's tasks run their image's HEALTHCHECK: shown as its checks.
  const spec = { ...declared, health: serviceChecks(declared, taskChecks(live)) };
  const running = live.filter((t) => t.state === 'running').length;
  const lines: Line[] = [
    ['ID', service.id],
    ['Name', spec.name],
    ['Image', service.imageNote ? `${spec.image} (${service.imageNote})` : spec.image],
    ['Pull', pullLine(spec.pull, service.registryAuth)],
    ['Replicas', `${spec.replicas} desired, ${running} running`],
    ['Command', spec.command.length > 0 ? spec.command.join(' ') : '(image default)'],
    ['Env', spec.env.length > 0 ? spec.env.join(', ') : '-'],
    ['Network', spec.network],
    ...(spec.ports.length > 0 ? [['Ports', portsText(spec.ports)] as Line] : []),
    ...(servedTargets(spec).length > 0 ? [['Names', namesText(spec)] as Line] : []),
    ...(hasResources(spec.resources) ? [['Resources', resourcesText(spec.resources)] as Line] : []),
    ['Stop timeout', formatDuration(spec.stopTimeoutMs)],
    ['Health', healthLine(spec, live)],
    ...probeLines(spec),
    ...(probeRuns(spec.health).length > 0 ? [['Throttled probes', throttledPolicyWords(spec.health)] as Line] : []),
    ['Restart', restartLine(spec)],
    ['Update', describeUpdatePolicy(spec.update, formatDuration)],
    ['Rollback', describeUpdatePolicy(spec.rollback, formatDuration)],
    ...(service.updateStatus ? [['Update status', updateStatusText(service.updateStatus, now)] as Line] : []),
    ...(service.previousSpec ? [['Previous spec', previousSpecText(service)] as Line] : []),
    ['Replacing', replacingLine(detail)],
    ...(detail.correlatedFailure ? [['Warning', correlatedWarning(detail, spec, now)] as Line] : []),
    ...detail.slots
      .filter((x) => x.gaveUp || x.nextAttemptAtMs > now)
      .map((x): Line => [`Slot ${x.slot}`, `${x.failures} failures in a row (${x.lastReason})${nextAttempt(x, now)}`]),
    ['Endpoints', endpointsText(spec, detail.endpoints)],
    ...(spec.mounts.length > 0 ? [['Mounts', mountsLine(spec)] as Line] : []),
    ['Created', `${new Date(service.createdAtMs).toISOString()} (${ago(service.createdAtMs, now)})`],
  ];
  const withHealth = probeRuns(spec.health).length > 0;
  const rows = live.map((t) => [
    String(t.slot),
    shortId(t.id),
    t.nodeName || '-',
    `${t.state} ${ago(t.updatedAtMs, now)}`,
    ...(withHealth ? [t.healthStatus, t.ready ? 'yes' : 'no', lastResult(t, spec, now)] : [t.ready ? 'yes' : 'no']),
    t.error || (t.state === 'running' ? '' : t.message),
  ]);
  const healthHeaders = withHealth ? ['HEALTH', 'READY', 'LAST RESULT'] : ['READY'];
  const headers = ['SLOT', 'TASK', 'NODE', 'STATE', ...healthHeaders, 'MESSAGE'];
  const tasks = rows.length > 0 ? table(headers, rows) : '(no tasks)';
  const problems = ingressProblemsText(detail.ingressProblems);
  return `${fields(lines)}\n\n${problems ? `${problems}\n` : ''}Tasks:\n${indent(tasks)}\n`;
}

/** The tasks' checks, read from the wire one at a time as serviceChecks asks. */
function* taskChecks(live: readonly wire.TaskOut[]): Iterable<ServiceSpec['health']> {
  for (const t of live) if (t.spec?.health?.fromImage) yield healthSpecFromWire(t.spec.health);
}

/** `Health: 2/3 healthy, 1 starting` (3 = desired replicas), or why there is none. */
function healthLine(spec: ServiceSpec, live: wire.TaskOut[]): string {
  if (spec.noHealthcheck && probeRuns(spec.health).length === 0)
    return "no checks (--no-healthcheck: not the image's)";
  if (probeRuns(spec.health).length === 0) return 'no checks configured';
  const count = (h: string) => live.filter((t) => t.state === 'running' && t.healthStatus === h).length;
  const others = (['starting', 'unhealthy'] as const).filter((h) => count(h) > 0).map((h) => `${count(h)} ${h}`);
  const notRunning = live.filter((t) => t.state !== 'running').length;
  if (notRunning > 0) others.push(`${notRunning} not running`);
  const ready = live.filter((t) => t.ready).length;
  return [`${count('healthy')}/${spec.replicas} healthy`, ...others].join(', ') + ` (${ready} ready)`;
}

/** Each probe in words: `liveness+readiness: HTTP GET :8080/health expecting 200-399, every 2s, …`. */
function probeLines(spec: ServiceSpec): Line[] {
  const from = spec.health.fromImage ? " (the image's HEALTHCHECK)" : '';
  return probeRuns(spec.health).map((run): Line => [`Check (${run.phases.join('+')})`, describeProbeRun(run) + from]);
}

function restartLine(spec: ServiceSpec): string {
  const r = spec.restart;
  const giveUp = r.maxAttempts > 0 ? `, giving up after ${r.maxAttempts} in a row` : '';
  const backoff = `after ${formatDuration(r.delayMs)} doubling to ${formatDuration(r.maxDelayMs)}${giveUp}`;
  return `replaced at once, then ${backoff}; forgiven after ${formatDuration(r.windowMs)} healthy`;
}

function replacingLine(detail: wire.ServiceDetailOut): string {
  const held = detail.held > 0 ? `; ${detail.held} unhealthy task${detail.held === 1 ? '' : 's'} held back` : '';
  return `${detail.replacementsInFlight} of at most ${detail.replacementBudget} at once for health${held}`;
}

function correlatedWarning(detail: wire.ServiceDetailOut, spec: ServiceSpec, now: number): string {
  const failing = detail.held + detail.replacementsInFlight;
  const since = formatAge(now - detail.correlatedSinceMs);
  const held = `${detail.held} replacement${detail.held === 1 ? ' is' : 's are'} held back`;
  return (
    `${failing} of ${spec.replicas} tasks are failing their health checks together since ${since} ago: ` +
    `a shared dependency may be down. ${held} so healthy capacity is not killed.`
  );
}

function mountsLine(spec: ServiceSpec): string {
  return spec.mounts.map((m) => `${m.source} → ${m.target}${m.readonly ? ' (read-only)' : ''}`).join(', ');
}

/** `success HTTP 200 3s ago` / `failure exit code 1: not ready 1s ago`. */
function lastResult(t: wire.TaskOut, spec: ServiceSpec, now: number): string {
  let last: { phase: string; r: wire.ProbeResultOut } | undefined;
  for (const phase of t.health) {
    const r = phase.results.at(-1);
    if (r && (!last || r.atMs > last.r.atMs)) last = { phase: phase.phase, r };
  }
  if (!last) return '-';
  const { phase, r } = last;
  const kind = probeRuns(spec.health).find((run) => run.phases.includes(phase as Phase))?.probe.handler.kind ?? 'exec';
  const words = describeResult(kind, resultFromWire(r));
  return `${r.outcome}${words !== r.outcome ? ` ${words}` : ''} ${ago(r.atMs, now)}`;
}

function pullLine(pull: ServiceSpec['pull'], registryAuth: boolean): string {
  const when = { missing: 'when a node lacks the image', always: 'at every task start', never: 'never' }[pull];
  return `${when}${registryAuth ? '; registry credentials kept for the workers that run its tasks' : ''}`;
}
