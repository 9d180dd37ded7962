import { Command } from 'commander';
import { SPEC_DEFAULTS, formatDuration } from '@warren/core';
import { registryAuthToWire, specToWire, type wire } from '@warren/api';
import { registryAuthFor } from '../registry-auth.js';
import { control } from '../context.js';
import { addFollowOptions, follow, waitTimeoutMs, type FollowFlags } from '../follow.js';
import { addHealthOptions } from '../health-flags.js';
import { addUpdatePolicyOptions } from '../update-flags.js';
import { collect, formatOption } from '../options.js';
import { printJson } from '../output.js';
import { addRestartOptions, parseScaleTargets, specFromFlags, type CreateOptions } from '../service-flags.js';
import { addUpdateCommands } from './service-update.js';
import { serviceDetailJson, servicesJson, taskJson } from '../views/service-json.js';
import { serviceDetailText } from '../views/service-inspect.js';
import { servicesTable, tasksTable } from '../views/service-list.js';
import { convergeWatch } from '../views/converge.js';
import { createScope, scaleScope, type WaitScope } from '../views/wait-rules.js';

export function serviceCommand(): Command {
  const service = new Command('service').description(
    'create, list, inspect, scale, update, roll back and remove services',
  );

  const create = service
    .command('create')
    .description('create a service: one task (container) per replica, kept running')
    .argument('<name>', 'service name')
    .argument('[command...]', 'command and arguments, after --')
    .requiredOption('--image <image>', 'image to run (pinned to its digest at create when its registry answers)')
    .option('--pull <policy>', 'pull the image: missing (when the node lacks it), always, never', SPEC_DEFAULTS.pull)
    .option(
      '--with-registry-auth',
      "send your credentials for the image's registry (Docker's config.json) to the workers",
    )
    .option('--replicas <n>', 'number of tasks', String(SPEC_DEFAULTS.replicas))
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--network <network>', 'host, bridge or a Docker network name', SPEC_DEFAULTS.network)
    .option(
      '--stop-timeout <duration>',
      `time between SIGTERM and SIGKILL when stopping (default ${formatDuration(SPEC_DEFAULTS.stopTimeoutMs)})`,
    )
    .option('--mount <source=DIR,target=DIR[,readonly]>', 'bind-mount a host directory (repeatable)', collect, [])
    .option(
      '-p, --publish <published=PORT,target=PORT>',
      'accept TCP connections on PORT of every node and forward them to ready tasks (also PORT:PORT; repeatable)',
      collect,
      [],
    );
  const createFlags = addHealthOptions(addUpdatePolicyOptions(addRestartOptions(create)));
  addFollowOptions(createFlags, 'every replica to run, healthy and ready').action(
    async (name: string, command: string[], o: CreateOptions & FollowFlags, cmd: Command) => {
      const spec = specFromFlags(name, command, o);
      const timeoutMs = waitTimeoutMs(o);
      const auth = o.withRegistryAuth ? registryAuthToWire(await registryAuthFor(spec.image)) : undefined;
      const request = { spec: specToWire(spec), ...(auth ? { registryAuth: auth } : {}) };
      const created = await control<wire.ServiceOut>(cmd, (c) => c.CreateService, request);
      process.stdout.write(`${created.id}\n`);
      if (!o.detach) {
        await follow(cmd, spec.name, { watch: convergeWatch(createScope(spec.replicas), 'create'), timeoutMs });
      }
    },
  );

  service
    .command('ls')
    .description('list services')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
      if (o.format === 'json') return printJson(servicesJson(res));
      process.stdout.write(`${servicesTable(res)}\n`);
    });

  service
    .command('ps')
    .description("list a service's tasks, including ended ones and why they ended")
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') return printJson(res.tasks.map(taskJson));
      process.stdout.write(`${tasksTable(res.tasks, res.slots)}\n`);
    });

  service
    .command('inspect')
    .description('show a service, its configuration and its tasks')
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') return printJson(serviceDetailJson(res));
      process.stdout.write(serviceDetailText(res));
    });

  const scale = service
    .command('scale')
    .description('set the number of replicas: warren service scale web=5 [api=2 ...]')
    .argument('<name=replicas...>');
  addFollowOptions(scale, 'the replicas to converge').action(async (pairs: string[], o: FollowFlags, cmd: Command) => {
    const targets = parseScaleTargets(pairs);
    const timeoutMs = waitTimeoutMs(o);
    const waits: Array<{ name: string; scope: WaitScope }> = [];
    for (const { name, replicas } of targets) {
      // What the service had before: the wait follows only the slots this command adds or removes.
      const before = o.detach
        ? undefined
        : await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      const scaled = await control<wire.ServiceOut>(cmd, (c) => c.ScaleService, { name, replicas });
      process.stdout.write(`${name} scaled to ${replicas}\n`);
      if (before) waits.push({ name: scaled.spec?.name ?? name, scope: scaleScope(before, replicas) });
    }
    for (const { name, scope } of waits) await follow(cmd, name, { watch: convergeWatch(scope, 'scale'), timeoutMs });
  });

  addUpdateCommands(service);

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
