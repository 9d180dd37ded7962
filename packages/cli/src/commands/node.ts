import { Command } from 'commander';
import type { wire } from '@warren/api';
import { control } from '../context.js';
import { ago, printJson, shortId, table } from '../output.js';
import { formatOption } from './service.js';

export function nodeCommand(): Command {
  const node = new Command('node').description('list the worker nodes');
  node
    .command('ls')
    .description('list nodes: every worker that ever joined, ready or down')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ListNodesResponseOut>(cmd, (c) => c.ListNodes, {});
      if (o.format === 'json') {
        return printJson(
          res.nodes.map((n) => ({
            id: n.id,
            name: n.name,
            hostname: n.hostname,
            status: n.status,
            tasks: n.taskCount,
            lastSeenAt: new Date(n.lastSeenAtMs).toISOString(),
            registeredAt: new Date(n.registeredAtMs).toISOString(),
          })),
        );
      }
      const rows = res.nodes.map((n) => [shortId(n.id), n.name, n.status, String(n.taskCount), ago(n.lastSeenAtMs), n.hostname]);
      process.stdout.write(`${table(['ID', 'NAME', 'STATUS', 'TASKS', 'LAST SEEN', 'HOSTNAME'], rows)}\n`);
    });
  return node;
}
