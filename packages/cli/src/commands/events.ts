import { Command } from 'commander';
import { ValidationError, parseDuration } from '@warren/core';
import type { wire } from '@warren/api/client';
import { formatOption } from '../options.js';

/** `10m` (ago) or an ISO time → ms since the epoch. */
export function parseTime(flag: string, text: string, now: number): number {
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) {
      throw new ValidationError(flag, text, 'not a time (write 10m for ten minutes ago, or an ISO time)');
    }
    return t;
  }
  return now - parseDuration(text, flag);
}

export function eventsCommand(): Command {
  return new Command('events')
    .description('stream health transitions, replacements, backoff and budget decisions as they happen')
    .option('--service <name>', 'only this service')
    .option('--since <time>', 'first replay kept events since then (10m: ten minutes ago, or an ISO time)')
    .option('--until <time>', 'stop after events up to then (0s: now); default: follow')
    .addOption(formatOption())
    .action(async (o: { service?: string; since?: string; until?: string; format: string }, cmd: Command) => {
      const now = Date.now();
      const sinceMs = o.since === undefined ? 0 : parseTime('--since', o.since, now);
      const untilMs = o.until === undefined ? 0 : Math.max(1, parseTime('--until', o.until, now));
      const [{ control, controlClient }, { readStream }] = await Promise.all([
        import('../context.js'),
        import('../stream-call.js'),
      ]);
      const nodes = await control<wire.ListNodesResponseOut>(cmd, (c) => c.ListNodes, {});
      const nodeName = new Map(nodes.nodes.map((n) => [n.id, n.name]));
      const connection = await controlClient(cmd);
      const call = connection.client.WatchEvents({ service: o.service ?? '', sinceMs, untilMs });
      await readStream(call, connection, (e: wire.EventOut) => {
        if (o.format === 'json') {
          const { seq, atMs, type, service, serviceId, taskId, slot, nodeId, reason, data } = e;
          const time = new Date(atMs).toISOString();
          const node = nodeName.get(nodeId) ?? nodeId;
          const json = { seq, time, type, service, serviceId, taskId, slot, node, reason, data };
          process.stdout.write(`${JSON.stringify(json)}\n`);
        } else {
          const where = e.slot > 0 ? `${e.service}.${e.slot}` : e.service;
          const task = e.taskId ? ` task=${e.taskId}` : '';
          const node = e.nodeId ? ` node=${nodeName.get(e.nodeId) ?? e.nodeId}` : '';
          const time = new Date(e.atMs).toISOString();
          process.stdout.write(`${time}  ${e.type.padEnd(26)} ${where}${task}${node}  ${e.reason}\n`);
        }
      });
    });
}
