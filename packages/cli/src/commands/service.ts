/**
 * `warren service …`. The flags are defined here; what an action needs beyond them (gRPC, the
 * views) is imported when it runs, so `--help` and bad flags load none of it.
 */
import { serviceLogsCommand } from './service-logs.js';
import { Command } from 'commander';
import { SPEC_DEFAULTS, formatDuration } from '@warren/core';
import type { wire } from '@warren/api/client';
import { addFollowOptions, waitTimeoutMs, type FollowFlags } from '../follow-flags.js';
import { addHealthOptions } from '../health-flags.js';
import { addUpdatePolicyOptions } from '../update-flags.js';
import { collect, formatOption } from '../options.js';
import { addRestartOptions, parseScaleTargets, specFromFlags, type CreateOptions } from '../service-flags.js';
import { addUpdateCommands } from './service-update.js';
import { addResourceOptions } from '../resource-flags.js';

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
    )
    .option(
      '--expose <PORT>',
      "serve PORT by the service's name to other tasks (no published port; repeatable)",
      collect,
      [],
    );
  create.option('--no-healthcheck', "without --health-* flags, do not run the image's HEALTHCHECK (Warren runs it)");
  const createFlags = addHealthOptions(addResourceOptions(addUpdatePolicyOptions(addRestartOptions(create))));
  addFollowOptions(createFlags, 'every replica to run, healthy and ready').action(
    async (name: string, command: string[], o: CreateOptions & FollowFlags, cmd: Command) => {
      const spec = specFromFlags(name, command, o);
      const timeoutMs = waitTimeoutMs(o);
      const [{ registryAuthToWire, specToWire }, { registryAuthFor }, { control }] = await Promise.all([
        import('@warren/api/convert'),
        import('../registry-auth.js'),
        import('../context.js'),
      ]);
      const auth = o.withRegistryAuth ? registryAuthToWire(await registryAuthFor(spec.image)) : undefined;
      const request = { spec: specToWire(spec), ...(auth ? { registryAuth: auth } : {}) };
      const created = await control<wire.ServiceOut>(cmd, (c) => c.CreateService, request);
      process.stdout.write(`${created.id}\n`);
      if (o.detach) return;
      const [{ follow }, { convergeWatch }, { createScope }] = await Promise.all([
        import('../follow.js'),
        import('../views/converge.js'),
        import('../views/wait-rules.js'),
      ]);
      await follow(cmd, spec.name, { watch: convergeWatch(createScope(spec.replicas), 'create'), timeoutMs });
    },
  );

  service
    .command('ls')
    .description('list services')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const { control } = await import('../context.js');
      const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
      if (o.format === 'json') {
        const [{ printJson }, { servicesJson }] = await Promise.all([
          import('../output.js'),
          import('../views/service-json.js'),
        ]);
        return printJson(servicesJson(res));
      }
      const { servicesTable } = await import('../views/service-list.js');
      process.stdout.write(`${servicesTable(res)}\n`);
    });

  service
    .command('ps')
    .description("list a service's tasks, including ended ones and why they ended")
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const { control } = await import('../context.js');
      // The table needs no task's spec or probe results: 1,000 tasks come back in a tenth of the bytes.
      const brief = o.format !== 'json';
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name, brief });
      if (o.format === 'json') {
        const [{ printJson }, { taskJson }] = await Promise.all([
          import('../output.js'),
          import('../views/service-json.js'),
        ]);
        return printJson(res.tasks.map(taskJson));
      }
      const { tasksTable, logsHint } = await import('../views/service-list.js');
      process.stdout.write(`${tasksTable(res.tasks, res.slots)}\n${logsHint(res.tasks)}`);
    });

  service.addCommand(serviceLogsCommand());

  service
    .command('inspect')
    .description('show a service, its configuration and its tasks')
    .argument('<name>', 'service name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const { control } = await import('../context.js');
      const res = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name });
      if (o.format === 'json') {
        const [{ printJson }, { serviceDetailJson }] = await Promise.all([
          import('../output.js'),
          import('../views/service-json.js'),
        ]);
        return printJson(serviceDetailJson(res));
      }
      const { serviceDetailText } = await import('../views/service-inspect.js');
      process.stdout.write(serviceDetailText(res));
    });

  const scale = service
    .command('scale')
    .description('set the number of replicas: warren service scale web=5 [api=2 ...]')
    .argument('<name=replicas...>');
  addFollowOptions(scale, 'the replicas to converge').action(async (pairs: string[], o: FollowFlags, cmd: Command) => {
    const targets = parseScaleTargets(pairs);
    const timeoutMs = waitTimeoutMs(o);
    const [{ control }, { follow }, { convergeWatch }, { scaleScope }] = await Promise.all([
      import('../context.js'),
      import('../follow.js'),
      import('../views/converge.js'),
      import('../views/wait-rules.js'),
    ]);
    const waits: Array<{ name: string; scope: ReturnType<typeof scaleScope> }> = [];
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
      const { control } = await import('../context.js');
      for (const name of names) {
        await control<wire.ServiceOut>(cmd, (c) => c.RemoveService, { name });
        process.stdout.write(`${name}\n`);
      }
    });

  return service;
}
