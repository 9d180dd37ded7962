import { Command } from 'commander';
import type { wire } from '@warren/api/client';
import { formatOption } from '../options.js';

/** What the node commands need to run, loaded then (not for --help). */
async function parts() {
  const [{ control }, { printJson }, views] = await Promise.all([
    import('../context.js'),
    import('../output.js'),
    import('../views/node.js'),
  ]);
  return { control, printJson, ...views };
}

export function nodeCommand(): Command {
  const node = new Command('node').description('list, inspect, drain, activate and remove worker nodes');
  node
    .command('ls')
    .description('list nodes: every worker that ever joined, ready or down')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const { control, printJson, nodeJson, nodesTable } = await parts();
      const res = await control<wire.ListNodesResponseOut>(cmd, (c) => c.ListNodes, {});
      if (o.format === 'json') return printJson(res.nodes.map(nodeJson));
      process.stdout.write(`${nodesTable(res.nodes)}\n`);
      // With several managers, which one leads and how etcd is (warren manager ls says more).
      const { managersLine } = await import('../views/managers.js');
      const managers = await control<wire.ManagersInfoOut>(cmd, (c) => c.ListManagers, {}).catch(() => undefined);
      const line = managers ? managersLine(managers) : '';
      if (line) process.stdout.write(`\n${line}\n`);
    });
  node
    .command('inspect')
    .description('show a node and the history of its status')
    .argument('<name>', 'node name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const { control, printJson, nodeJson, nodeDetailText } = await parts();
      const n = await control<wire.NodeOut>(cmd, (c) => c.InspectNode, { name });
      if (o.format === 'json') return printJson(nodeJson(n));
      process.stdout.write(nodeDetailText(n));
    });
  for (const [verb, availability, what] of [
    ['drain', 'drain', 'move tasks away gracefully (successor healthy elsewhere first) and place none here'],
    ['activate', 'active', 'accept tasks again'],
  ] as const) {
    node
      .command(verb)
      .description(what)
      .argument('<name>', 'node name or id')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const { control } = await parts();
        const n = await control<wire.NodeOut>(cmd, (c) => c.SetNodeAvailability, { name, availability });
        process.stdout.write(`${n.name}: ${n.availability}\n`);
      });
  }
  node
    .command('rm')
    .description('remove a node: its certificate is refused from then on and its tasks go elsewhere')
    .argument('<name>', 'node name or id')
    .option('-f, --force', 'remove it even while it runs tasks (they are rescheduled)')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const { control } = await parts();
      const n = await control<wire.NodeOut>(cmd, (c) => c.RemoveNode, { name, force: o.force === true });
      process.stdout.write(`${n.name} removed\n`);
    });
  return node;
}
