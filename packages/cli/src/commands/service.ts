import { Command, Option } from 'commander';
import {
  RESTART_DEFAULTS,
  SPEC_DEFAULTS,
  ValidationError,
  formatAge,
  type Mount,
  describeResult,
  probeRuns,
  type Outcome,
  type Phase,
  formatDuration,
  parseDuration,
  validateReplicas,
  validateServiceName,
  validateServiceSpec,
  type ServiceSpec,
} from '@warren/core';
import { specFromWire, specToWire, type wire } from '@warren/api';
import { control } from '../context.js';
import { addHealthOptions, healthFromFlags } from '../health-flags.js';
import { parseCount } from '../numbers.js';
import { ago, fields, indent, printJson, shortId, table } from '../output.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface CreateOptions {
  image: string;
  replicas: string;
  env: string[];
  network: string;
  stopTimeout?: string;
  restartDelay?: string;
  restartMaxDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  maxReplacing?: string;
  mount: string[];
  [healthFlag: string]: unknown;
}

/** `source=/host/dir,target=/dir[,readonly]` → a bind mount. */
function parseMount(text: string): Mount {
  const fields = new Map<string, string>();
  let readonly = false;
  for (const part of text.split(',')) {
    if (part === 'readonly' || part === 'ro') readonly = true;
    else {
      const eq = part.indexOf('=');
      const key = part.slice(0, eq);
      if (eq <= 0 || !['source', 'src', 'target', 'dst', 'destination'].includes(key)) {
        throw new ValidationError('--mount', text, 'write it as source=/host/dir,target=/dir[,readonly]');
      }
      fields.set(key.startsWith('s') ? 'source' : 'target', part.slice(eq + 1));
    }
  }
  const source = fields.get('source');
  const target = fields.get('target');
  if (!source || !target) throw new ValidationError('--mount', text, 'needs both source= and target=');
  return { source, target, readonly };
}

/** Builds and validates the spec of `service create` from its flags; throws ValidationError. */
export function specFromFlags(name: string, command: string[], o: CreateOptions): ServiceSpec {
  return validateServiceSpec({
    name,
    image: o.image,
    replicas: parseCount('--replicas', o.replicas),
    command,
    env: o.env,
    network: o.network,
    stopTimeoutMs: o.stopTimeout === undefined ? SPEC_DEFAULTS.stopTimeoutMs : parseDuration(o.stopTimeout, '--stop-timeout'),
    health: healthFromFlags(o as Record<string, string | undefined>),
    restart: {
      delayMs: o.restartDelay === undefined ? RESTART_DEFAULTS.delayMs : parseDuration(o.restartDelay, '--restart-delay'),
      maxDelayMs: o.restartMaxDelay === undefined ? RESTART_DEFAULTS.maxDelayMs : parseDuration(o.restartMaxDelay, '--restart-max-delay'),
      maxAttempts: o.restartMaxAttempts === undefined ? RESTART_DEFAULTS.maxAttempts : parseCount('--restart-max-attempts', o.restartMaxAttempts),
      windowMs: o.restartWindow === undefined ? RESTART_DEFAULTS.windowMs : parseDuration(o.restartWindow, '--restart-window'),
    },
    maxReplacing: o.maxReplacing === undefined ? 0 : parseCount('--max-replacing', o.maxReplacing),
    mounts: o.mount.map(parseMount),
  });
}

export function serviceCommand(): Command {
  const service = new Command('service').description('create, list, inspect, scale and remove services');

  const create = service
    .command('create')
    .description('create a service: one task (container) per replica, kept running')
    .argument('<name>', 'service name')
    .argument('[command...]', 'command and arguments, after --')
    .requiredOption('--image <image>', 'image to run (never pulled: it must exist on the nodes)')
    .option('--replicas <n>', 'number of tasks', String(SPEC_DEFAULTS.replicas))
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--network <network>', 'host, bridge or a Docker network name', SPEC_DEFAULTS.network)
    .option('--stop-timeout <duration>', `time between SIGTERM and SIGKILL when stopping (default ${formatDuration(SPEC_DEFAULTS.stopTimeoutMs)})`)
    .option('--mount <source=DIR,target=DIR[,readonly]>', 'bind-mount a host directory (repeatable)', collect, [])
    .option('--restart-delay <duration>', `wait before the 2nd replacement of a slot in a row, doubling after (default ${formatDuration(RESTART_DEFAULTS.delayMs)})`)
    .option('--restart-max-delay <duration>', `longest wait between replacements (default ${formatDuration(RESTART_DEFAULTS.maxDelayMs)})`)
    .option('--restart-max-attempts <n>', 'replacements of a slot in a row before giving up (default 0: never give up)')
    .option('--restart-window <duration>', `healthy this long forgives a slot's failures (default ${formatDuration(RESTART_DEFAULTS.windowMs)})`)
    .option('--max-replacing <n>', 'tasks replaced for health at once, at most (default: a third of the replicas, at least 1)');
  addHealthOptions(create).action(async (name: string, command: string[], o: CreateOptions, cmd: Command) => {
      const spec = specFromFlags(name, command, o);
      const created = await control<wire.ServiceOut>(cmd, (c) => c.CreateService, { spec: specToWire(spec) }, {});
      process.stdout.write(`${created.id}\n`);
    });

  service
    .command('ls')
    .description('list services')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
      if (o.format === 'json') {
        return printJson(res.services.map((s) => ({ ...serviceJson(s.service!), running: s.running, desired: s.desired })));
      }
      const rows = res.services.map((s) => {
        const spec = specFromWire(s.service?.spec);
        return [shortId(s.service!.id), spec.name, `${s.running}/${s.desired}`, spec.image, spec.command.join(' ')];
      });
      process.stdout.write(`${table(['ID', 'NAME', 'REPLICAS', 'IMAGE', 'COMMAND'], rows)}\n`);
    });

  service
    .command('ps')
    .description("list a service's tasks, including ended ones and why they ended")
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') return printJson(res.tasks.map(taskJson));
      process.stdout.write(`${table(['ID', 'NAME', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'], psRows(res.tasks, res.slots))}\n`);
    });

  service
    .command('inspect')
    .description('show a service, its configuration and its tasks')
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') {
        return printJson({
          ...serviceJson(res.service!),
          tasks: res.tasks.map(taskJson),
          endpoints: res.endpoints.map((e) => ({ taskId: e.taskId, slot: e.slot, nodeId: e.nodeId, address: e.address })),
          replacement: {
            budget: res.replacementBudget,
            inFlight: res.replacementsInFlight,
            held: res.held,
            correlatedFailure: res.correlatedFailure,
            correlatedSince: res.correlatedFailure ? new Date(res.correlatedSinceMs).toISOString() : null,
            slots: res.slots.map((x) => ({ slot: x.slot, failures: x.failures, nextAttemptAt: x.nextAttemptAtMs > Date.now() ? new Date(x.nextAttemptAtMs).toISOString() : null, gaveUp: x.gaveUp, lastReason: x.lastReason })),
          },
        });
      }
      process.stdout.write(inspectText(res));
    });

  service
    .command('scale')
    .description('set the number of replicas: warren service scale web=5 [api=2 ...]')
    .argument('<name=replicas...>')
    .action(async (pairs: string[], _o: unknown, cmd: Command) => {
      const wanted = pairs.map((pair) => {
        const eq = pair.lastIndexOf('=');
        if (eq <= 0) throw new ValidationError('scale', pair, 'write it as NAME=REPLICAS');
        const name = validateServiceName(pair.slice(0, eq));
        return { name, replicas: validateReplicas(parseCount('replicas', pair.slice(eq + 1)), `replicas of ${name}`) };
      });
      for (const { name, replicas } of wanted) {
        await control<wire.ServiceOut>(cmd, (c) => c.ScaleService, { name, replicas });
        process.stdout.write(`${name} scaled to ${replicas}\n`);
      }
    });

  service
    .command('rm')
    .description('remove services; their containers are stopped and removed')
    .argument('<name...>', 'service names or ids')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      for (const name of names) {
        await control<wire.ServiceOut>(cmd, (c) => c.RemoveService, { name });
        process.stdout.write(`${name}\n`);
      }
    });

  return service;
}

export function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');
}

function serviceJson(s: wire.ServiceOut) {
  return { id: s.id, name: s.spec?.name ?? '', spec: specFromWire(s.spec), createdAt: new Date(s.createdAtMs).toISOString(), updatedAt: new Date(s.updatedAtMs).toISOString() };
}

function taskJson(t: wire.TaskOut) {
  return {
    id: t.id,
    name: `${t.serviceName}.${t.slot}`,
    slot: t.slot,
    node: t.nodeName,
    nodeId: t.nodeId,
    state: t.state,
    desiredState: t.desiredState,
    message: t.message,
    error: t.error,
    exitCode: t.hasExitCode ? t.exitCode : null,
    containerId: t.containerId,
    health: t.healthStatus,
    ready: t.ready,
    phases: Object.fromEntries(
      t.health.map((p) => [p.phase, { status: p.status, successStreak: p.successStreak, failureStreak: p.failureStreak, lastTransitionAt: p.lastTransitionAtMs ? new Date(p.lastTransitionAtMs).toISOString() : null }]),
    ),
    results: resultsJson(t),
    createdAt: new Date(t.createdAtMs).toISOString(),
    updatedAt: new Date(t.updatedAtMs).toISOString(),
  };
}

/** Results of all phases, oldest first; a run that fed two phases (--health-*) appears once. */
function resultsJson(t: wire.TaskOut) {
  const runs = new Map<string, { phases: string[]; r: wire.ProbeResultOut }>();
  for (const phase of t.health) {
    for (const r of phase.results) {
      const key = `${r.atMs}/${r.durationMs}/${r.outcome}`;
      const known = runs.get(key);
      if (known) known.phases.push(phase.phase);
      else runs.set(key, { phases: [phase.phase], r });
    }
  }
  return [...runs.values()]
    .sort((a, b) => a.r.atMs - b.r.atMs)
    .map(({ phases, r }) => ({
      time: new Date(r.atMs).toISOString(),
      phases,
      durationMs: r.durationMs,
      outcome: r.outcome,
      code: r.hasCode ? r.code : null,
      output: r.output,
      counted: r.counted,
    }));
}

function psRows(tasks: wire.TaskOut[], slots: wire.SlotStatusOut[]): string[][] {
  let lastSlot = -1;
  return tasks.map((t) => {
    const first = t.slot !== lastSlot;
    const name = first ? `${t.serviceName}.${t.slot}` : ` \\_ ${t.serviceName}.${t.slot}`;
    lastSlot = t.slot;
    let error = t.error !== '' ? t.error : t.state === 'pending' || t.held ? t.message : '';
    if (first && t.desiredState === 'shutdown') error += nextAttempt(slots.find((s) => s.slot === t.slot));
    const health = t.healthStatus !== 'none' && t.desiredState === 'running' && t.state === 'running' ? ` (${t.healthStatus})` : '';
    return [shortId(t.id), name, t.nodeName || '-', t.desiredState, `${t.state}${health} ${ago(t.updatedAtMs)}`, error];
  });
}

function inspectText(detail: wire.ServiceDetailOut): string {
  const service = detail.service!;
  const spec = specFromWire(service.spec);
  const live = detail.tasks.filter((t) => t.desiredState === 'running');
  const running = live.filter((t) => t.state === 'running').length;
  const lines: Array<[string, string]> = [
    ['ID', service.id],
    ['Name', spec.name],
    ['Image', spec.image],
    ['Replicas', `${spec.replicas} desired, ${running} running`],
    ['Command', spec.command.length > 0 ? spec.command.join(' ') : '(image default)'],
    ['Env', spec.env.length > 0 ? spec.env.join(', ') : '-'],
    ['Network', spec.network],
    ['Stop timeout', formatDuration(spec.stopTimeoutMs)],
    ['Health', healthLine(spec, live)],
    ...probeLines(spec),
    ['Restart', `replaced at once, then after ${formatDuration(spec.restart.delayMs)} doubling to ${formatDuration(spec.restart.maxDelayMs)}${spec.restart.maxAttempts > 0 ? `, giving up after ${spec.restart.maxAttempts} in a row` : ''}; forgiven after ${formatDuration(spec.restart.windowMs)} healthy`],
    ['Replacing', `${detail.replacementsInFlight} of at most ${detail.replacementBudget} at once for health${detail.held > 0 ? `; ${detail.held} unhealthy task${detail.held === 1 ? '' : 's'} held back` : ''}`],
    ...(detail.correlatedFailure
      ? [['Warning', `${detail.held + detail.replacementsInFlight} of ${spec.replicas} tasks are failing their health checks together since ${formatAge(Date.now() - detail.correlatedSinceMs)} ago: a shared dependency may be down. ${detail.held} replacement${detail.held === 1 ? ' is' : 's are'} held back so healthy capacity is not killed.`] as [string, string]]
      : []),
    ...detail.slots
      .filter((x) => x.gaveUp || x.nextAttemptAtMs > Date.now())
      .map((x): [string, string] => [`Slot ${x.slot}`, `${x.failures} failures in a row (${x.lastReason})${nextAttempt(x)}`]),
    ['Endpoints', detail.endpoints.length > 0 ? detail.endpoints.map((e) => e.address).join(', ') : '(none ready)'],
    ...(spec.mounts.length > 0 ? [['Mounts', spec.mounts.map((m) => `${m.source} → ${m.target}${m.readonly ? ' (read-only)' : ''}`).join(', ')] as [string, string]] : []),
    ['Created', `${new Date(service.createdAtMs).toISOString()} (${ago(service.createdAtMs)})`],
  ];
  const head = fields(lines);
  const withHealth = probeRuns(spec.health).length > 0;
  const rows = live.map((t) => [
    String(t.slot),
    shortId(t.id),
    t.nodeName || '-',
    `${t.state} ${ago(t.updatedAtMs)}`,
    ...(withHealth ? [t.healthStatus, t.ready ? 'yes' : 'no', lastResult(t, spec)] : [t.ready ? 'yes' : 'no']),
    t.error || (t.state === 'running' ? '' : t.message),
  ]);
  const headers = ['SLOT', 'TASK', 'NODE', 'STATE', ...(withHealth ? ['HEALTH', 'READY', 'LAST RESULT'] : ['READY']), 'MESSAGE'];
  const tasks = rows.length > 0 ? table(headers, rows) : '(no tasks)';
  return `${head}\n\nTasks:\n${indent(tasks)}\n`;
}

/** ` (next attempt in 4s)` for a slot waiting out its backoff, ` (given up)` for one that stopped. */
function nextAttempt(slot: wire.SlotStatusOut | undefined): string {
  if (!slot) return '';
  if (slot.gaveUp) return ` (given up after ${slot.failures} failures in a row)`;
  const wait = slot.nextAttemptAtMs - Date.now();
  return wait > 0 ? ` (next attempt in ${(wait / 1000).toFixed(1)}s, failure ${slot.failures} in a row)` : '';
}

/** `Health: 2/3 healthy, 1 starting` (3 = desired replicas), or why there is none. */
function healthLine(spec: ServiceSpec, live: wire.TaskOut[]): string {
  if (probeRuns(spec.health).length === 0) return 'no checks configured';
  const count = (h: string) => live.filter((t) => t.state === 'running' && t.healthStatus === h).length;
  const others = (['starting', 'unhealthy'] as const).filter((h) => count(h) > 0).map((h) => `${count(h)} ${h}`);
  const notRunning = live.filter((t) => t.state !== 'running').length;
  if (notRunning > 0) others.push(`${notRunning} not running`);
  const ready = live.filter((t) => t.ready).length;
  return [`${count('healthy')}/${spec.replicas} healthy`, ...others].join(', ') + ` (${ready} ready)`;
}

/** Each probe in words: `liveness+readiness: HTTP GET :8080/health expecting 200-399, every 2s, …`. */
function probeLines(spec: ServiceSpec): Array<[string, string]> {
  return probeRuns(spec.health).map((run) => {
    const p = run.probe;
    const h = p.handler;
    const check =
      h.kind === 'http'
        ? `HTTP GET ${h.scheme}://<task>:${h.port}${h.path} expecting ${h.statusMin}-${h.statusMax}${h.headers.map((x) => `, ${x.name}: ${x.value}`).join('')}`
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
    const effect = run.phases.includes('liveness') || run.phases.includes('startup') ? 'replaced when unhealthy' : 'out of endpoints when unhealthy';
    return [`Check (${run.phases.join('+')})`, `${check}; ${timing.join(', ')}; ${effect}`] as [string, string];
  });
}

/** `success HTTP 200 3s ago` / `failure exit code 1: not ready 1s ago`. */
function lastResult(t: wire.TaskOut, spec: ServiceSpec): string {
  let last: { phase: string; r: wire.ProbeResultOut } | undefined;
  for (const phase of t.health) {
    const r = phase.results.at(-1);
    if (r && (!last || r.atMs > last.r.atMs)) last = { phase: phase.phase, r };
  }
  if (!last) return '-';
  const kind = probeRuns(spec.health).find((run) => run.phases.includes(last!.phase as Phase))?.probe.handler.kind ?? 'exec';
  const result = { at: last.r.atMs, durationMs: last.r.durationMs, outcome: last.r.outcome as Outcome, output: last.r.output, counted: last.r.counted, ...(last.r.hasCode ? { code: last.r.code } : {}) };
  const words = describeResult(kind, result);
  return `${last.r.outcome}${words !== last.r.outcome ? ` ${words}` : ''} ${ago(last.r.atMs)}`;
}


