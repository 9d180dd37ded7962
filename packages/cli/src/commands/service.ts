import { Command, Option } from 'commander';
import {
  SPEC_DEFAULTS,
  ValidationError,
  formatDuration,
  parseDuration,
  validateReplicas,
  validateServiceName,
  validateServiceSpec,
  type ServiceSpec,
} from '@warren/core';
import { specFromWire, specToWire, type wire } from '@warren/api';
import { control } from '../context.js';
import { ago, printJson, shortId, table } from '../output.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Parses a whole number for `flag`, refusing `3.5`, `abc` or `""`. */
export function parseCount(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new ValidationError(flag, text, 'must be a whole number');
  return Number(text);
}

interface CreateOptions {
  image: string;
  replicas: string;
  env: string[];
  network: string;
  stopTimeout?: string;
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
    health: {},
  });
}

export function serviceCommand(): Command {
  const service = new Command('service').description('create, list, inspect, scale and remove services');

  service
    .command('create')
    .description('create a service: one task (container) per replica, kept running')
    .argument('<name>', 'service name')
    .argument('[command...]', 'command and arguments, after --')
    .requiredOption('--image <image>', 'image to run (never pulled: it must exist on the nodes)')
    .option('--replicas <n>', 'number of tasks', String(SPEC_DEFAULTS.replicas))
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--network <network>', 'host, bridge or a Docker network name', SPEC_DEFAULTS.network)
    .option('--stop-timeout <duration>', `time between SIGTERM and SIGKILL when stopping (default ${formatDuration(SPEC_DEFAULTS.stopTimeoutMs)})`)
    .action(async (name: string, command: string[], o: CreateOptions, cmd: Command) => {
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
      const res = await control<wire.ListTasksResponseOut>(cmd, (c) => c.ListTasks, { service: name });
      if (o.format === 'json') return printJson(res.tasks.map(taskJson));
      process.stdout.write(`${table(['ID', 'NAME', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'], psRows(res.tasks))}\n`);
    });

  service
    .command('inspect')
    .description('show a service, its configuration and its tasks')
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') return printJson({ ...serviceJson(res.service!), tasks: res.tasks.map(taskJson) });
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
    // No probes yet: a running task without a readiness check is ready (DESIGN.md rule 6).
    health: 'none',
    ready: t.state === 'running' && t.desiredState === 'running',
    results: [],
    createdAt: new Date(t.createdAtMs).toISOString(),
    updatedAt: new Date(t.updatedAtMs).toISOString(),
  };
}

function psRows(tasks: wire.TaskOut[]): string[][] {
  let lastSlot = -1;
  return tasks.map((t) => {
    const name = t.slot === lastSlot ? ` \\_ ${t.serviceName}.${t.slot}` : `${t.serviceName}.${t.slot}`;
    lastSlot = t.slot;
    const error = t.error !== '' ? t.error : t.state === 'pending' ? t.message : '';
    return [shortId(t.id), name, t.nodeName || '-', t.desiredState, `${t.state} ${ago(t.updatedAtMs)}`, error];
  });
}

function inspectText(detail: wire.ServiceDetailOut): string {
  const service = detail.service!;
  const spec = specFromWire(service.spec);
  const live = detail.tasks.filter((t) => t.desiredState === 'running');
  const running = live.filter((t) => t.state === 'running').length;
  const lines = [
    ['ID', service.id],
    ['Name', spec.name],
    ['Image', spec.image],
    ['Replicas', `${spec.replicas} desired, ${running} running`],
    ['Command', spec.command.length > 0 ? spec.command.join(' ') : '(image default)'],
    ['Env', spec.env.length > 0 ? spec.env.join(', ') : '-'],
    ['Network', spec.network],
    ['Stop timeout', formatDuration(spec.stopTimeoutMs)],
    ['Health', 'no checks configured'],
    ['Created', `${new Date(service.createdAtMs).toISOString()} (${ago(service.createdAtMs)})`],
  ];
  const width = Math.max(...lines.map(([k]) => k!.length)) + 2;
  const head = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
  const rows = live.map((t) => [String(t.slot), shortId(t.id), t.nodeName || '-', `${t.state} ${ago(t.updatedAtMs)}`, t.containerId ? shortId(t.containerId) : '-', t.error || t.message]);
  const tasks = rows.length > 0 ? table(['SLOT', 'TASK', 'NODE', 'STATE', 'CONTAINER', 'MESSAGE'], rows) : '(no tasks)';
  return `${head}\n\nTasks:\n${indent(tasks)}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

