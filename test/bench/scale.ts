/**
 * Scale (issue 22): one `warren manager` process and a fleet of simulated workers (real join,
 * real protocol over mutual TLS, no containers) in this process. Measures the manager alone (its
 * CPU and RSS from /proc, apart from the simulators'): 1,000 nodes idle with heartbeats every
 * second; then for each size, services of 1,000 replicas created → every task reported running
 * (tasks per second scheduled, assigned and confirmed), `service ls` and `service ps` of one
 * 1,000-replica service through the CLI, and the manager's RSS; then the services removed.
 */
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { createControlClient, unary, type wire } from '@warren/api';
import { CLI, runToEnd, spawnWarren, waitFor } from '../helpers/cluster.js';
import { launchBrowser } from '../helpers/browser.js';
import { SimFleet } from '../helpers/sim-fleet.js';
import { rollout, statusPage, type PageFigures, type RolloutFigures } from './scale-user.js';
import { percentile } from './stats.js';

const IMAGE = 'bench-image:latest';
const REPLICAS = 1000;

export interface ScaleStep {
  tasks: number;
  /** Every task checked each second: results acked per second, send → ack, the manager's cores. */
  resultsPerSecond: number;
  ackP50: number;
  ackP99: number;
  checkCores: number;
  /** Batches a node held back (16 unanswered): the manager fell behind. */
  skipped: number;
  /** The simulators' own event-loop delay p99 while checking, ms: a part of every latency above. */
  simLoopP99: number;
  /** A liveness transition → its replacement assigned, ms (TRANSITIONS one after another). */
  replaceP50: number;
  replaceP99: number;
  createMs: number;
  tasksPerSecond: number;
  managerCores: number;
  lsMs: number;
  psMs: number;
  rssMiB: number;
  /** A rolling update of one 1,000-replica service, parallelism 50, monitor 1 s. */
  rollout: RolloutFigures;
  /** The status page at this size. */
  page: PageFigures;
}

export interface ScaleFigures {
  nodes: number;
  joinMs: number;
  idleCores: number;
  idleRssMiB: number;
  steps: ScaleStep[];
  /**
   * At the largest size: 100 nodes lost at once (or a tenth of a smaller fleet): the tasks they
   * ran, and the time until every task runs again on the others (the detection bound is 3 s).
   */
  nodeLoss?: { nodes: number; tasks: number; ms: number };
  /**
   * At the size WARREN_BENCH_SCALE_SOAK names (`SIZE:MINUTES`): the store's size on disk each
   * minute while every task is checked each second and one is replaced every 5 s.
   */
  soak?: { tasks: number; minutes: number; storeMiB: number[]; replaced: number };
  /** WARREN_BENCH_SCALE_SERVICES=N: `service ls` with N services of one checked task each. */
  manyServices?: { services: number; createMs: number; lsMs: number };
  /** Why the next size did not finish, if one did not ('' when all did). */
  stopped: string;
  /** Status reports the manager refused, in its words (a node declared down meanwhile: its tasks moved). */
  refusals: string[];
}

/** The process's CPU time so far (user + system), in ms. */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function rssMiB(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** Median wall time of `warren ARGS` (a fresh process each, as a user runs it), 5 runs. */
async function cliMs(socket: string, ...args: string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const res = await runToEnd(process.execPath, [CLI, '--manager', socket, ...args], {}, 60_000);
    if (res.code !== 0) throw new Error(`warren ${args.join(' ')}: ${res.stderr}`);
    times.push(performance.now() - t0);
  }
  return Math.round(times.sort((a, b) => a - b)[2]!);
}

/** `count` services `PREFIX0…`, of `replicas` tasks each, every task checked each second. */
async function createServices(control: wire.ControlServiceClient, prefix: string, count: number, replicas: number) {
  const health = { liveness: { exec: { command: ['true'] }, intervalMs: 1000 } };
  for (let s = 0; s < count; s++) {
    const spec = { name: `${prefix}${s}`, image: IMAGE, replicas, command: ['sleep', '1'], health };
    await unary(control.CreateService, control, { spec }, { timeoutMs: 60_000 });
  }
}

async function removeServices(control: wire.ControlServiceClient, prefix: string, count: number) {
  for (let s = 0; s < count; s++)
    await unary(control.RemoveService, control, { name: `${prefix}${s}` }, { timeoutMs: 60_000 });
}

/** The size of a directory on disk, MiB (du: blocks in use, as the disk sees it). */
async function diskMiB(dir: string): Promise<number> {
  const { stdout } = await promisify(execFile)('du', ['-sk', dir]);
  return Number(stdout.split('\t')[0]) / 1024;
}

/**
 * `minutes` of steady work: every task checked each second, one replaced every 5 s. The store's
 * size on disk (LevelDB under `dataDir`) is read at the start and each minute.
 */
async function soak(dataDir: string, f: SimFleet, minutes: number) {
  const storeMiB = [await diskMiB(dataDir)];
  let replaced = 0;
  const end = performance.now() + minutes * 60_000;
  let nextSample = performance.now() + 60_000;
  while (performance.now() < end) {
    await f.fail();
    replaced++;
    await new Promise((r) => setTimeout(r, 5000));
    if (performance.now() >= nextSample) {
      storeMiB.push(await diskMiB(dataDir));
      nextSample += 60_000;
    }
  }
  return { minutes, storeMiB, replaced };
}

/** Transitions timed one after another at each size. */
const TRANSITIONS = 20;

/**
 * With every task checked each second: 10 s of results (acked per second, send → ack, the
 * manager's cores), then TRANSITIONS liveness failures one after another, each timed to its
 * replacement's assignment.
 */
async function checking(pid: number, f: SimFleet) {
  const h = f.health;
  await new Promise((r) => setTimeout(r, 2000));
  [h.latencies, h.results, h.skipped, h.measuring] = [[], 0, 0, true];
  const cpu0 = await cpuMs(pid);
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  await new Promise((r) => setTimeout(r, 10_000));
  loop.disable();
  h.measuring = false;
  const wall = performance.now() - t0;
  const checkCores = ((await cpuMs(pid)) - cpu0) / wall;
  const figures = {
    resultsPerSecond: (h.results / wall) * 1000,
    ackP50: percentile(h.latencies, 0.5),
    ackP99: percentile(h.latencies, 0.99),
    checkCores,
    skipped: h.skipped,
    simLoopP99: loop.percentile(99) / 1e6,
  };
  const replacements: number[] = [];
  for (let i = 0; i < TRANSITIONS; i++) {
    replacements.push(await f.fail());
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ...figures, replaceP50: percentile(replacements, 0.5), replaceP99: percentile(replacements, 0.99) };
}

export async function scaleBench(nodes: number, sizes: number[]): Promise<ScaleFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  // WARREN_BENCH_PROFILE=DIR: the manager's CPU profile, written there when it stops.
  const profile = process.env.WARREN_BENCH_PROFILE;
  const manager = spawnWarren(
    ['manager', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    { WARREN_LOG_LEVEL: 'info' },
    profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  );
  let fleet: SimFleet | undefined;
  let browser: Browser | undefined;
  const [soakSize, soakMinutes] = (process.env.WARREN_BENCH_SCALE_SOAK ?? '0:0').split(':').map(Number);
  try {
    const started = await manager.waitForLog((l) => typeof l.joinToken === 'string', 60_000);
    const http = (await manager.waitForLog((l) => l.msg === 'manager started', 60_000)).http as string;
    const [address, token, socket] = [
      started.address as string,
      started.joinToken as string,
      started.socket as string,
    ];
    const caPem = await readFile(join(dataDir, 'certs', 'ca.crt'), 'utf8');
    const pid = manager.process.pid!;
    const t0 = performance.now();
    fleet = await SimFleet.start({ address, token, caPem, nodes, images: [IMAGE], checkEveryMs: 1000 });
    const joinMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3000));
    const idle0 = await cpuMs(pid);
    await new Promise((r) => setTimeout(r, 10_000));
    const idleCores = (await cpuMs(pid)) - idle0;
    const figures: ScaleFigures = {
      nodes,
      joinMs,
      idleCores: idleCores / 10_000,
      idleRssMiB: await rssMiB(pid),
      steps: [],
      refusals: [],
      stopped: '',
    };
    process.stderr.write(`bench: scale ${JSON.stringify(figures)}\n`);
    const f = fleet;

    const control = createControlClient(`unix:${socket.replace(/^unix:/, '')}`);
    try {
      for (const size of sizes) {
        try {
          await step(size);
        } catch (err) {
          figures.stopped = `${size} tasks: ${(err as Error).message.split('\n')[0]}`;
          // What the manager warned of meanwhile, by message.
          const warned = new Map<string, number>();
          for (const l of manager.lines)
            if (Number(l.level) >= 40) warned.set(String(l.msg), (warned.get(String(l.msg)) ?? 0) + 1);
          if (warned.size > 0)
            figures.stopped += `; the manager warned: ${[...warned].map(([m, n]) => `${n}× ${m}`).join(', ')}`;
          break;
        }
      }
      async function step(size: number): Promise<void> {
        const services = Math.max(1, Math.round(size / REPLICAS));
        const replicas = Math.round(size / services);
        const cpu0 = await cpuMs(pid);
        const created = performance.now();
        await createServices(control, 'scale', services, replicas);
        const confirmed = (n: number) => () => f.running === n && f.backlog === 0;
        await waitFor(`${size} tasks running`, confirmed(services * replicas), 600_000, 20);
        const createMs = performance.now() - created;
        const managerCores = ((await cpuMs(pid)) - cpu0) / createMs;
        const lsMs = await cliMs(socket, 'service', 'ls');
        const psMs = await cliMs(socket, 'service', 'ps', 'scale0');
        const checks = await checking(pid, f);
        const rss = await rssMiB(pid);
        const first = await unary<{ name: string }, wire.ServiceDetailOut>(control.InspectService, control, {
          name: 'scale0',
        });
        browser ??= await launchBrowser();
        const page = await statusPage(
          browser,
          `http://${http}`,
          services,
          { name: 'scale0', id: first.service!.id, replicas },
          f,
        );
        const rolled = await rollout(control, 'scale0');
        const step = {
          tasks: services * replicas,
          createMs,
          managerCores,
          lsMs,
          psMs,
          rssMiB: rss,
          page,
          rollout: rolled,
        };
        figures.steps.push({ ...step, ...checks, tasksPerSecond: step.tasks / (createMs / 1000) });
        if (size === soakSize) {
          figures.soak = { tasks: step.tasks, ...(await soak(join(dataDir, 'store'), f, soakMinutes!)) };
          process.stderr.write(`bench: scale soak ${JSON.stringify(figures.soak)}\n`);
        }
        process.stderr.write(`bench: scale ${JSON.stringify(figures.steps.at(-1))}\n`);
        if (size === sizes.at(-1)) {
          const total = f.running;
          const nodes = Math.min(100, Math.floor(f.nodes.length / 10));
          const t0 = performance.now();
          const tasks = f.lose(nodes);
          await waitFor('every task running again', confirmed(total), 600_000, 20);
          figures.nodeLoss = { nodes, tasks, ms: performance.now() - t0 };
          process.stderr.write(`bench: scale node loss ${JSON.stringify(figures.nodeLoss)}\n`);
        }
        await removeServices(control, 'scale', services);
        await waitFor('the services gone', confirmed(0), 600_000, 50);
      }
      const many = Number(process.env.WARREN_BENCH_SCALE_SERVICES ?? 0);
      if (many > 0 && !figures.stopped) {
        const t0 = performance.now();
        await createServices(control, 'many', many, 1);
        await waitFor(`${many} services running`, () => f.running === many && f.backlog === 0, 600_000, 20);
        const createMs = performance.now() - t0;
        figures.manyServices = { services: many, createMs, lsMs: await cliMs(socket, 'service', 'ls') };
        process.stderr.write(`bench: scale services ${JSON.stringify(figures.manyServices)}\n`);
        await removeServices(control, 'many', many);
        await waitFor('the services gone', () => f.running === 0 && f.backlog === 0, 600_000, 50);
      }
    } finally {
      control.close();
    }
    figures.refusals = [...fleet.refusals].map(([why, n]) => `${n}× ${why}`);
    return figures;
  } finally {
    await browser?.close();
    await fleet?.stop();
    await manager.stop(30_000);
    await rm(dataDir, { recursive: true, force: true });
  }
}
