/** `warren stack`: deploy compose files as Swarm users do (`docker stack deploy -c compose.yml app`). */
import { Command } from 'commander';
import { validateServiceName, type ServiceSpec } from '@warren/core';
import type { wire } from '@warren/api/client';
import { CliError } from '../errors.js';

const collect = (value: string, all: string[]): string[] => [...all, value];

export function stackCommand(): Command {
  const stack = new Command('stack').description('deploy and manage stacks of services from compose files');

  stack
    .command('deploy')
    .description("create or update a stack's services from compose files; only the changed ones roll over")
    .argument('<name>', 'stack name: its services are named <name>_<service>')
    .requiredOption(
      '-c, --compose-file <file>',
      'a compose file (repeatable: later files override earlier ones)',
      collect,
      [],
    )
    .option('--prune', 'remove the services of the stack that the files no longer name')
    .action(async (name: string, o: { composeFile: string[]; prune?: boolean }, cmd: Command) => {
      validateServiceName(name, 'stack name');
      const [{ readStack }, { stackPlan }, { control }, { specToWire }] = await Promise.all([
        import('../stack/compose-stack.js'),
        import('../stack/stack-plan.js'),
        import('../context.js'),
        import('@warren/api/convert'),
      ]);
      const { specs, unsupported } = await readStack(o.composeFile, name);
      if (unsupported.length > 0) process.stderr.write(`warning: not supported, ignored: ${unsupported.join(', ')}\n`);
      const current = await stackServices(cmd, name);
      for (const step of stackPlan(specs, current, o.prune === true)) {
        if (step.kind === 'create') {
          process.stdout.write(`Creating service ${step.spec.name}\n`);
          await control(cmd, (c) => c.CreateService, { spec: specToWire(step.spec) });
        } else if (step.kind === 'update') {
          process.stdout.write(`Updating service ${step.spec.name}\n`);
          await control(cmd, (c) => c.UpdateService, { name: step.spec.name, spec: specToWire(step.spec) });
        } else if (step.kind === 'remove') {
          process.stdout.write(`Removing service ${step.name}\n`);
          await control(cmd, (c) => c.RemoveService, { name: step.name });
        } else process.stdout.write(`${step.name}: unchanged\n`);
      }
    });

  stack
    .command('ls')
    .description('list stacks and how many services each has')
    .action(async (_o: unknown, cmd: Command) => {
      const [{ control }, { table }] = await Promise.all([import('../context.js'), import('../output.js')]);
      const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
      const counts = new Map<string, number>();
      for (const s of res.services) {
        const of = s.service?.spec?.stack;
        if (of) counts.set(of, (counts.get(of) ?? 0) + 1);
      }
      const rows = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([n, c]) => [n, String(c)]);
      process.stdout.write(`${table(['NAME', 'SERVICES'], rows)}\n`);
    });

  stack
    .command('services')
    .description("list a stack's services")
    .argument('<name>', 'stack name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const [{ control }, { servicesTable }] = await Promise.all([
        import('../context.js'),
        import('../views/service-list.js'),
      ]);
      const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
      const services = res.services.filter((s) => s.service?.spec?.stack === name);
      process.stdout.write(`${servicesTable({ services: noneFound(services, name) })}\n`);
    });

  stack
    .command('ps')
    .description("list the tasks of a stack's services, ended ones included")
    .argument('<name>', 'stack name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const [{ control }, { table }, { TASK_HEADERS, taskRows }] = await Promise.all([
        import('../context.js'),
        import('../output.js'),
        import('../views/service-list.js'),
      ]);
      const names = noneFound(await stackServices(cmd, name), name).map((s) => s.name);
      const rows: string[][] = [];
      for (const service of names) {
        const detail = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name: service });
        rows.push(...taskRows(detail.tasks, detail.slots));
      }
      process.stdout.write(`${table(TASK_HEADERS, rows)}\n`);
    });

  stack
    .command('rm')
    .description("remove a stack: its services' containers are stopped and removed")
    .argument('<name...>', 'stack names')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const { control } = await import('../context.js');
      for (const name of names) {
        for (const s of noneFound(await stackServices(cmd, name), name)) {
          process.stdout.write(`Removing service ${s.name}\n`);
          await control(cmd, (c) => c.RemoveService, { name: s.name });
        }
      }
    });

  return stack;
}

/** The stack's services as the manager has them. */
async function stackServices(cmd: Command, name: string): Promise<ServiceSpec[]> {
  const [{ control }, { specFromWire }] = await Promise.all([import('../context.js'), import('@warren/api/convert')]);
  const res = await control<wire.ListServicesResponseOut>(cmd, (c) => c.ListServices, {});
  const specs = res.services.map((s) => specFromWire(s.service?.spec)).filter((s) => s.stack === name);
  return specs.sort((a, b) => a.name.localeCompare(b.name));
}

function noneFound<T>(items: T[], name: string): T[] {
  if (items.length > 0) return items;
  throw new CliError(`no stack named ${name} (warren stack ls lists them)`, 2);
}
