import { readFile, readdir } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ProbeHandler } from '@warren/core';
import { demuxDockerStream } from '../docker-stream.js';
import { dockerMessage } from '../runtime.js';
import type { Semaphore } from '../semaphore.js';
import { EXEC_OUTPUT_LIMIT, timedOut, type ProbeOutcome, type ProbeTarget } from './types.js';

type ExecHandler = Extract<ProbeHandler, { kind: 'exec' }>;

/** How long the engine may take to answer the calls after the command (exit code, PID). */
const ENGINE_GRACE_MS = 1000;

/** The promise's value, or undefined if it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Raw bytes kept from an exec's multiplexed stream: the 4 KiB of output plus frame headers. */
const RAW_LIMIT = EXEC_OUTPUT_LIMIT * 2;

/**
 * Runs the command inside the container through the Docker exec API. Exit code 0 is success;
 * stdout and stderr are kept (the first 4 KiB). On timeout the exec'd process and all its
 * descendants are killed (the exec's host PID is in the exec inspect data; the worker runs as
 * root in the host's PID namespace), so hung checks never pile up in the container.
 * Execs are limited by `limit` across the worker, so a burst cannot overload dockerd; the time
 * spent waiting for a place does not count against the timeout.
 */
export async function execProbe(
  docker: Docker,
  limit: Semaphore,
  h: ExecHandler,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const release = await limit.acquire();
  try {
    const started = Date.now();
    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      const begin = async (): Promise<[Docker.Exec, Duplex]> => {
        const container = docker.getContainer(target.containerId);
        const e = await container.exec({ Cmd: h.command, AttachStdout: true, AttachStderr: true });
        return [e, (await e.start({ hijack: true, stdin: false })) as Duplex];
      };
      let timer: NodeJS.Timeout | undefined;
      let gaveUp = false;
      const starting = begin();
      // If the engine answers after we gave up, close the stream it then hands over.
      starting.then(([, late]) => gaveUp && late.destroy(), () => undefined);
      [exec, stream] = await Promise.race([
        starting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            gaveUp = true;
            reject(new Error(`the Docker engine did not start the exec within ${timeoutMs}ms`));
          }, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      // The engine could not run the check at all (down, hung, erroring, container not
      // running): not the task's fault, so not counted.
      return { outcome: 'unknown', output: `exec could not be started: ${dockerMessage(err)}` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const ended = new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        if (size < RAW_LIMIT) chunks.push(chunk.subarray(0, RAW_LIMIT - size));
        size += chunk.length;
      });
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const remainingMs = Math.max(0, timeoutMs - (Date.now() - started));
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), remainingMs)));
    const first = await Promise.race([ended.then(() => 'ended' as const), expired]);
    clearTimeout(timer);
    if (first === 'timeout') {
      // The engine may be the one that hangs: asking it for the PID is bounded too, and if it
      // cannot say, the time ran out in the engine rather than in the check: not counted.
      const pid = await within(exec.inspect().then((info) => info.Pid, () => 0), ENGINE_GRACE_MS);
      if (pid) await killTree(pid);
      stream.destroy();
      if (pid === undefined) {
        const output = `the check outlived its ${timeoutMs}ms timeout and the Docker engine did not answer for it`;
        return { outcome: 'unknown', output };
      }
      return timedOut(timeoutMs);
    }
    const output = demuxDockerStream(Buffer.concat(chunks)).slice(0, EXEC_OUTPUT_LIMIT);
    const exitCode = await within(exitCodeOf(exec), ENGINE_GRACE_MS);
    if (exitCode === undefined) {
      return { outcome: 'unknown', output: 'exec finished but Docker reported no exit code' };
    }
    return { outcome: exitCode === 0 ? 'success' : 'failure', code: exitCode, output };
  } finally {
    release();
  }
}

async function exitCodeOf(exec: Docker.Exec): Promise<number | undefined> {
  // The stream can end a moment before Docker records the exit code.
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    } catch {
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

/** SIGKILL to a process and every descendant of it. */
async function killTree(pid: number): Promise<void> {
  for (const victim of [pid, ...(await descendants(pid))]) {
    try {
      process.kill(victim, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Descendants of `root`, read from /proc (field 4 of /proc/PID/stat is the parent). */
export async function descendants(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid);
      if (list) list.push(pid);
      else children.set(ppid, [pid]);
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
