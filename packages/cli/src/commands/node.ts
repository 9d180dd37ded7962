import { Command } from 'commander';
import type { wire } from '@warren/api';
import { control } from '../context.js';
import { ago, fields, indent, printJson, shortId, table } from '../output.js';
import { formatOption } from '../options.js';

function nodeJson(n: wire.NodeOut) {
  return {
    id: n.id,
    name: n.name,
    hostname: n.hostname,
    status: n.status,
    availability: n.availability,
    engine: n.engineOk ? 'ok' : `unreachable: ${n.engineMessage}`,
    tasks: n.taskCount,
    lastSeenAt: new Date(n.lastSeenAtMs).toISOString(),
    registeredAt: new Date(n.registeredAtMs).toISOString(),
    history: n.history.map((h) => ({ time: new Date(h.atMs).toISOString(), status: h.status, reason: h.reason })),
  };
}

/** `ready`, `down`, or `ready, engine unreachable`. */
function statusWords(n: wire.NodeOut): string {
  return n.status === 'ready' && !n.engineOk ? 'ready, engine unreachable' : n.status;
}

function engineWords(n: wire.NodeOut): string {
  if (n.engineOk) return 'the worker reaches its Docker engine';
  return `unreachable (${n.engineMessage}): no task here is replaced for health until it answers`;
}

export function nodeCommand(): Command {
  const node = new Command('node').description('list, inspect, drain and activate worker nodes');
  node
    .command('ls')
    .description('list nodes: every worker that ever joined, ready or down')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const res = await control<wire.ListNodesResponseOut>(cmd, (c) => c.ListNodes, {});
      if (o.format === 'json') return printJson(res.nodes.map(nodeJson));
      const rows = res.nodes.map((n) => [
        shortId(n.id),
        n.name,
        statusWords(n),
        n.availability,
        String(n.taskCount),
        ago(n.lastSeenAtMs),
        n.hostname,
      ]);
      const headers = ['ID', 'NAME', 'STATUS', 'AVAILABILITY', 'TASKS', 'LAST HEARTBEAT', 'HOSTNAME'];
      process.stdout.write(`${table(headers, rows)}\n`);
    });
  node
    .command('inspect')
    .description('show a node and the history of its status')
    .argument('<name>', 'node name or id')
    .addOption(formatOption())
    .action(async (name: string, o: { format?: string }, cmd: Command) => {
      const n = await control<wire.NodeOut>(cmd, (c) => c.InspectNode, { name });
      if (o.format === 'json') return printJson(nodeJson(n));
      const lines: Array<[string, string]> = [
        ['ID', n.id],
        ['Name', n.name],
        ['Hostname', n.hostname],
        ['Status', statusWords(n)],
        ['Availability', n.availability],
        ['Engine', engineWords(n)],
        ['Tasks', String(n.taskCount)],
        ['Last heartbeat', `${new Date(n.lastSeenAtMs).toISOString()} (${ago(n.lastSeenAtMs)})`],
        ['Joined', new Date(n.registeredAtMs).toISOString()],
      ];
      const transitions = n.history.map((h) => [new Date(h.atMs).toISOString(), h.status, h.reason]);
      const history =
        transitions.length > 0 ? table(['TIME', 'STATUS', 'REASON'], transitions) : '(no transitions yet)';
      process.stdout.write(`${fields(lines)}\n\nHistory:\n${indent(history)}\n`);
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
        const n = await control<wire.NodeOut>(cmd, (c) => c.SetNodeAvailability, { name, availability });
        process.stdout.write(`${n.name}: ${n.availability}\n`);
      });
  }
  return node;
}
