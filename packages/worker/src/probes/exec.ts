import { readFile, readdir } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { ProbeHandler } from '@warren/core';
import { demuxDockerStream } from '../docker-stream.js';
import { dockerMessage } from '../runtime.js';
import type { Semaphore } from '../semaphore.js';
import { EXEC_OUTPUT_LIMIT, timedOut, type ProbeOutcome, type ProbeTarget } from './types.js';

type ExecHandler = Extract<ProbeHandler, { kind: 'exec' }>;

/** How long the engine may take to answer the calls after the command (exit code, PID). */
const ENGINE_GRACE_MS = 1000;
/**
 * How long a check that outlived its run is looked after in the background: when the engine
 * starts it late, or names its PID late (loaded, frozen for a while), it is killed once the
 * engine does. The run itself never waits for this.
 */
const LATE_KILL_PATIENCE_MS = 5 * 60_000;
/** The longest pause between two questions to the engine about an exec's state. */
const POLL_MAX_MS = 1000;

/** The promise's value, or undefined if it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The promise's value, or undefined once `signal` has aborted (at once if it already has). */
function unless<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  let onAbort = (): void => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** Raw bytes kept from an exec's multiplexed stream: the 4 KiB of output plus frame headers. */
const RAW_LIMIT = EXEC_OUTPUT_LIMIT * 2;

/**
 * Runs the command inside the container through the Docker exec API. Exit code 0 is success;
 * stdout and stderr are kept (the first 4 KiB). The timeout covers the whole run, the engine's
 * create and start included. Every process a run starts is killed with all its descendants if
 * it outlives the run (the exec's host PID is in the exec inspect data; the worker runs as root
 * in the host's PID namespace), also when the engine starts it after the run gave up, so hung
 * checks never pile up in the container.
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
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await runExec(docker, h, target, timeoutMs, deadline.signal);
  } finally {
    clearTimeout(timer);
    release();
  }
}

async function runExec(
  docker: Docker,
  h: ExecHandler,
  target: ProbeTarget,
  timeoutMs: number,
  deadline: AbortSignal,
): Promise<ProbeOutcome> {
  let exec: Docker.Exec | undefined;
  let stream: Duplex | undefined;
  try {
    const container = docker.getContainer(target.containerId);
    const options = { Cmd: h.command, AttachStdout: true, AttachStderr: true, abortSignal: deadline };
    // Each wait is bounded by the deadline itself, whether or not the call honours the signal.
    exec = await unless(container.exec(options), deadline);
    // An exec created after the deadline is never started.
    if (exec && !deadline.aborted) {
      // The start is waited for after the run too (see killWhenStarted), up to the patience;
      // once the stream is handed over, the signal no longer touches it.
      const abortSignal = AbortSignal.timeout(LATE_KILL_PATIENCE_MS);
      const starting = exec.start({ hijack: true, stdin: false, abortSignal });
      stream = await unless(starting, deadline);
      if (!stream) killWhenStarted(exec, starting);
    }
  } catch (err) {
    // The engine could not run the check at all (down, hung, erroring, container not
    // running): not the task's fault, so not counted.
    if (!deadline.aborted) return { outcome: 'unknown', output: `exec could not be started: ${dockerMessage(err)}` };
  }
  if (!exec || !stream) {
    const output = `exec could not be started: the Docker engine did not start the exec within ${timeoutMs}ms`;
    return { outcome: 'unknown', output };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const ended = new Promise<true>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      if (size < RAW_LIMIT) chunks.push(chunk.subarray(0, RAW_LIMIT - size));
      size += chunk.length;
    });
    stream.once('end', () => resolve(true));
    stream.once('close', () => resolve(true));
    stream.once('error', () => resolve(true));
  });
  if (!(await unless(ended, deadline))) return killTimedOut(exec, stream, timeoutMs);
  const output = demuxDockerStream(Buffer.concat(chunks)).slice(0, EXEC_OUTPUT_LIMIT);
  const exitCode = await exitCodeOf(exec, ENGINE_GRACE_MS);
  if (exitCode === undefined) {
    return { outcome: 'unknown', output: 'exec finished but Docker reported no exit code' };
  }
  return { outcome: exitCode === 0 ? 'success' : 'failure', code: exitCode, output };
}

/**
 * The check outlived its timeout: its process tree is killed. The engine may be the one that
 * hangs: the run waits for the PID only for the engine's grace, and if the engine cannot say by
 * then, the time ran out in the engine rather than in the check: not counted. The check is then
 * killed once the engine names its PID.
 */
async function killTimedOut(exec: Docker.Exec, stream: Duplex, timeoutMs: number): Promise<ProbeOutcome> {
  const pid = runningPid(exec, LATE_KILL_PATIENCE_MS);
  const known = await within(pid, ENGINE_GRACE_MS);
  if (known === undefined) {
    stream.destroy();
    void pid.then((late) => (late ? killTree(late) : undefined)).catch(() => undefined);
    const output = `the check outlived its ${timeoutMs}ms timeout and the Docker engine did not answer for it`;
    return { outcome: 'unknown', output };
  }
  if (known) await killTree(known);
  stream.destroy();
  return timedOut(timeoutMs);
}

/**
 * The run gave up while the engine was starting the exec: if the engine does start it, its
 * stream is closed and its process tree killed once the engine names its PID.
 */
function killWhenStarted(exec: Docker.Exec, starting: Promise<Duplex>): void {
  starting
    .then(async (late) => {
      late.destroy();
      const pid = await runningPid(exec, LATE_KILL_PATIENCE_MS);
      if (pid) await killTree(pid);
    })
    .catch(() => undefined);
}

/**
 * The host PID of the exec's process once the engine reports it running; 0 once the engine says
 * it is over (exited, or gone with its container); undefined if it says neither within
 * `patienceMs`. The engine answers the start a moment before the process runs (and before it
 * knows the PID), so "not yet" is asked again. Every question is bounded.
 */
async function runningPid(exec: Docker.Exec, patienceMs: number): Promise<number | undefined> {
  const until = Date.now() + patienceMs;
  for (let pauseMs = 5; ; pauseMs = Math.min(pauseMs * 2, POLL_MAX_MS)) {
    const leftMs = until - Date.now();
    if (leftMs <= 0) return undefined;
    try {
      const info = await exec.inspect({ abortSignal: AbortSignal.timeout(leftMs) });
      if (info.ExitCode !== null) return 0;
      if (info.Running && info.Pid > 0) return info.Pid;
    } catch (err) {
      // An answer (no such exec: its container is gone) ends it; silence or a broken
      // connection is asked again.
      if ((err as { statusCode?: number }).statusCode !== undefined) return 0;
    }
    await sleep(Math.max(0, Math.min(pauseMs, until - Date.now())));
  }
}

/** The exit code once Docker has recorded it; undefined if it has not within `patienceMs`. */
async function exitCodeOf(exec: Docker.Exec, patienceMs: number): Promise<number | undefined> {
  const signal = AbortSignal.timeout(patienceMs);
  // The stream can end a moment before Docker records the exit code.
  for (let pauseMs = 5; !signal.aborted; pauseMs = Math.min(pauseMs * 2, 100)) {
    try {
      const info = await exec.inspect({ abortSignal: signal });
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    } catch {
      return undefined;
    }
    await sleep(pauseMs);
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
