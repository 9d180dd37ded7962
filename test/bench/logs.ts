/**
 * `warren service logs` (issue 21): one task that wrote 1,000,000 lines (~95 MB), read whole through
 * the manager from the worker's engine: lines per second, and the most memory the manager, the
 * worker and the CLI held above what they held before — once read as fast as possible, once by a
 * reader that takes nothing for 5 s (flow control: the engine is read only as fast as the reader).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, Cluster, TEST_IMAGE, waitFor } from '../helpers/cluster.js';

const LINES = 1_000_000;
const LINE = 'a line of output, 0123456789012345678901234567890123456789012345678901234567890123456789';

export interface LogsFigures {
  lines: number;
  bytes: number;
  fastMs: number;
  /** The most RSS above the start, MiB: manager, worker, CLI. */
  fastGrowth: [number, number, number];
  pausedGrowth: [number, number, number];
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Runs `warren service logs chatty`, its stdout read after `pauseMs`; samples the three processes' RSS. */
async function read(c: Cluster, pauseMs: number) {
  const pids = [c.manager.process.pid!, c.workers.get('w1')!.process.pid!];
  const base = pids.map(rssMiB);
  const cli = spawn(process.execPath, [CLI, '--manager', c.control, 'service', 'logs', 'chatty'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cliBase = rssMiB(cli.pid!);
  const peak = [0, 0, 0];
  const sample = setInterval(() => {
    pids.forEach((pid, i) => (peak[i] = Math.max(peak[i]!, rssMiB(pid) - base[i]!)));
    try {
      peak[2] = Math.max(peak[2]!, rssMiB(cli.pid!) - cliBase);
    } catch {
      // the CLI ended
    }
  }, 50);
  const started = Date.now();
  let lines = 0;
  let bytes = 0;
  cli.stdout.pause();
  setTimeout(() => cli.stdout.resume(), pauseMs);
  cli.stdout.on('data', (b: Buffer) => {
    bytes += b.length;
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
  });
  await new Promise((resolve) => cli.on('close', resolve));
  clearInterval(sample);
  return {
    ms: Date.now() - started,
    lines,
    bytes,
    growth: peak.map((x) => Math.round(x)) as [number, number, number],
  };
}

export async function logsBench(): Promise<LogsFigures> {
  const c = await Cluster.create();
  try {
    await c.startWorker('w1');
    const script = `yes '${LINE}' | head -n ${LINES}; echo done; exec sleep 100000`;
    await c.ok('service', 'create', 'chatty', '--image', TEST_IMAGE, '--', 'sh', '-c', script);
    await waitFor(
      'the output written',
      async () => (await c.cli('service', 'logs', 'chatty', '--tail', '1')).stdout.includes('| done'),
      120_000,
      500,
    );
    const fast = await read(c, 0);
    const paused = await read(c, 5000);
    if (fast.lines !== LINES + 1 || paused.lines !== LINES + 1)
      throw new Error(`lines: ${fast.lines}, ${paused.lines}`);
    return {
      lines: fast.lines,
      bytes: fast.bytes,
      fastMs: fast.ms,
      fastGrowth: fast.growth,
      pausedGrowth: paused.growth,
    };
  } finally {
    await c.destroy();
  }
}
