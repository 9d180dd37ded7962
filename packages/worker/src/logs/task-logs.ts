/**
 * The worker's side of `warren service logs`: the manager asks (a LogsRequest on the assignment
 * stream) for some of this node's tasks' output; each task's containers' logs are read from the
 * engine and streamed back on one SendLogs call. Flow control end to end: a line is read from the
 * engine only when the call can take it, so memory stays bounded whatever the log's size.
 */
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { wire } from '@warren/api';
import type { ContainerRuntime } from '../runtime.js';
import { DockerLogLines, type OutputLine } from './log-lines.js';

/** Lines sent in one chunk at most (those the engine has ready). */
const LINES_PER_CHUNK = 64;

export interface LogsQuestion {
  id: string;
  taskIds: string[];
  follow: boolean;
  tail?: number;
  sinceMs: number;
}

export async function sendLogs(
  question: LogsQuestion,
  deps: { client: wire.WorkerServiceClient; runtime: ContainerRuntime; nodeId: string; logger: Logger },
  signal: AbortSignal,
): Promise<void> {
  const { client, runtime, nodeId, logger } = deps;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // The manager answers when it wants no more (its client went away): everything stops.
  const call = client.SendLogs((err) => {
    if (err && !stop.signal.aborted) logger.debug({ err, request: question.id }, 'logs call ended');
    stop.abort();
  });
  const send = async (lines: wire.LogLine[]): Promise<void> => {
    if (stop.signal.aborted) throw stop.signal.reason;
    if (!call.write({ nodeId, requestId: question.id, lines })) await once(call, 'drain', { signal: stop.signal });
  };
  try {
    await send([]);
    await Promise.all(
      question.taskIds.map(async (taskId) => {
        const containers = await runtime.containersOfTask(nodeId, taskId);
        for (const c of containers) {
          const raw = await runtime.logStream(c.id, question, stop.signal);
          await pipeline(raw, new DockerLogLines(), chunker(taskId, send), { signal: stop.signal });
        }
      }),
    );
  } catch (err) {
    if (!stop.signal.aborted) logger.warn({ err, request: question.id }, 'logs could not be sent');
  } finally {
    logger.debug(
      { request: question.id, tasks: question.taskIds.length, follow: question.follow },
      'logs request ended',
    );
    signal.removeEventListener('abort', onAbort);
    if (signal.aborted) call.cancel();
    else call.end();
  }
}

/** Lines to chunks of the call: what is buffered goes in one chunk, the next waits for room. */
function chunker(taskId: string, send: (lines: wire.LogLine[]) => Promise<void>): Writable {
  const toWire = (l: OutputLine): wire.LogLine => ({ taskId, stream: l.stream, atMs: l.atMs, text: l.text });
  return new Writable({
    objectMode: true,
    highWaterMark: LINES_PER_CHUNK,
    writev(chunks, done) {
      send(chunks.map((c) => toWire(c.chunk as OutputLine))).then(() => done(), done);
    },
  });
}
