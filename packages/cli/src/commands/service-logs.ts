/** `warren service logs`: the output of a service's tasks (or of one task), from every node. */
import { Command } from 'commander';
import { ValidationError } from '@warren/core';
import type { wire } from '@warren/api/client';
import { parseTime } from './events.js';

interface LogsOptions {
  follow?: boolean;
  tail: string;
  since?: string;
  timestamps?: boolean;
  taskIds: boolean;
}

export function serviceLogsCommand(): Command {
  return new Command('logs')
    .description("the output of a service's tasks from every node, replaced tasks included (or of one task)")
    .argument('<service|task>', 'a service name, or a task id (or its start) from service ps')
    .option('-f, --follow', 'go on with new output until Ctrl-C')
    .option('-n, --tail <lines>', 'the last lines of each task, or all', 'all')
    .option('--since <time>', 'output since then (10m: ten minutes ago, or an ISO time)')
    .option('-t, --timestamps', 'show when each line was written')
    .option('--no-task-ids', 'name tasks by service and slot alone (web.2@node)')
    .action(async (name: string, o: LogsOptions, cmd: Command) => {
      const tail = parseTail(o.tail);
      const sinceMs = o.since === undefined ? 0 : parseTime('--since', o.since, Date.now());
      const [{ controlClient }, { readStream }] = await Promise.all([
        import('../context.js'),
        import('../stream-call.js'),
      ]);
      const connection = await controlClient(cmd);
      const request = { name, follow: o.follow === true, sinceMs, ...(tail === undefined ? {} : { tail }) };
      const call = connection.client.ServiceLogs(request);
      const prefix = prefixer(o.taskIds);
      await readStream(call, connection, (l: wire.LogLineOut) => {
        if (l.notice) return void process.stderr.write(`warren: ${l.notice}\n`);
        const time = o.timestamps ? `${new Date(l.atMs).toISOString()} ` : '';
        const out = l.stream === 'stderr' ? process.stderr : process.stdout;
        // A full pipe: the next lines wait (the manager and the worker wait in turn).
        if (!out.write(`${prefix(l)} | ${time}${l.text}\n`)) {
          call.pause();
          out.once('drain', () => call.resume());
        }
      });
    });
}

function parseTail(text: string): number | undefined {
  if (text === 'all') return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 1_000_000)
    throw new ValidationError('--tail', text, 'a number of lines (0 to 1000000) or all');
  return Number(text);
}

/** Docker's prefix, `web.2.1a2b3c4d5e6f@node1`, padded as wide as the widest so far. */
function prefixer(taskIds: boolean): (l: wire.LogLineOut) => string {
  let width = 0;
  return (l) => {
    const p = `${l.service}.${l.slot}${taskIds ? `.${l.taskId}` : ''}@${l.nodeName}`;
    width = Math.max(width, p.length);
    return p.padEnd(width);
  };
}
