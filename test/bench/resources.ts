/**
 * Resources (issue 24):
 *   1. what reading a container's CPU throttling costs per probe: the real prober runs a cheap
 *      check (answered at once) against tasks whose real container has a CPU limit, with the real
 *      cgroup reader and without it; the prober process's CPU per 1,000 runs, interleaved rounds
 *   2. time from a node's room freeing (the container holding the reservation died) to the task
 *      that waited for it running (its container started), from the engine's own event times
 */
import { pino } from 'pino';
import { PROBE_DEFAULTS } from '@warren/core';
import { CpuThrottleReader, Prober } from '@warren/worker';
import { Cluster, TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';
import { runningTask, testSpec } from '../helpers/spec.js';
import { percentile } from './stats.js';

export interface ResourcesFigures {
  probe: { tasks: number; runs: number; withMsPer1000: number[]; withoutMsPer1000: number[] };
  room: { rounds: number; ms: number[] };
}

const TASKS = 200;
const INTERVAL_MS = 20;
const ROUND_MS = 4000;
const ROUNDS = 3;

export async function resourcesBench(roomRounds = 5): Promise<ResourcesFigures> {
  return { probe: await throttleCost(), room: await roomToRunning(roomRounds) };
}

async function throttleCost(): Promise<ResourcesFigures['probe']> {
  const container = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sleep', '100000'],
    HostConfig: { Init: true, NanoCpus: 500_000_000 },
    Labels: { 'warren.bench': '1' },
  });
  await container.start();
  const figures = { tasks: TASKS, runs: 0, withMsPer1000: [] as number[], withoutMsPer1000: [] as number[] };
  try {
    const spec = testSpec({
      name: 'bench',
      health: { check: { ...PROBE_DEFAULTS, handler: { kind: 'tcp', port: 1 }, intervalMs: INTERVAL_MS } },
      resources: {
        limits: { nanoCpus: 500_000_000, memoryBytes: 0, pids: 0 },
        reservations: { nanoCpus: 0, memoryBytes: 0 },
      },
    });
    const round = async (reader: CpuThrottleReader | undefined): Promise<number> => {
      let runs = 0;
      const prober = new Prober({
        execute: async () => ({ outcome: 'success', output: '' }),
        onUpdate: () => runs++,
        logger: pino({ level: 'silent' }),
        ...(reader ? { throttle: reader } : {}),
      });
      const target = { containerId: container.id, address: '127.0.0.1' };
      for (let i = 0; i < TASKS; i++) prober.add(runningTask(`t${i}`, spec), target, Date.now());
      // Warm-up (the reader finds the cgroup once per container), then measure.
      await new Promise((r) => setTimeout(r, 500));
      const [cpu0, runs0] = [process.cpuUsage(), runs];
      await new Promise((r) => setTimeout(r, ROUND_MS));
      const cpu = process.cpuUsage(cpu0);
      const done = (runs - runs0) / 2; // a check feeds liveness and readiness: two updates per run
      prober.stop();
      figures.runs += done;
      return ((cpu.user + cpu.system) / 1000 / done) * 1000;
    };
    for (let i = 0; i < ROUNDS; i++) {
      figures.withoutMsPer1000.push(await round(undefined));
      figures.withMsPer1000.push(await round(new CpuThrottleReader(docker)));
    }
  } finally {
    await container.remove({ force: true });
  }
  return figures;
}

async function roomToRunning(rounds: number): Promise<ResourcesFigures['room']> {
  const c = await Cluster.create();
  const ms: number[] = [];
  try {
    await c.startWorker('w1');
    const capacity = await waitFor('the node with its capacity', async () => {
      const [n] = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{
        capacity: { nanoCpus: number };
      }>;
      return n?.capacity;
    });
    const all = String(capacity.nanoCpus / 1e9);
    for (let i = 0; i < rounds; i++) {
      const holder = `holder${i}`;
      const waiter = `waiter${i}`;
      const args = ['--image', TEST_IMAGE, '--stop-timeout', '1s'];
      await c.ok('service', 'create', holder, ...args, '--reserve-cpu', all, '--', 'sleep', '100000');
      const [held] = await c.waitRunning(holder, 1, 60_000);
      await c.ok('service', 'create', waiter, ...args, '--reserve-cpu', '1', '--', 'sleep', '100000');
      await waitFor('the waiter pending for room', async () =>
        /no node has/.test(await c.ok('service', 'ps', waiter)),
      );
      const since = Math.floor(Date.now() / 1000) - 1;
      await c.ok('service', 'rm', holder);
      const [started] = await c.waitRunning(waiter, 1, 60_000);
      const events = await engineEvents(since);
      const died = events.find((e) => e.id === held!.containerId && e.status === 'die');
      const start = events.find((e) => e.id === started!.containerId && e.status === 'start');
      if (!died || !start) throw new Error('the engine events of the round are missing');
      ms.push((start.timeNano - died.timeNano) / 1e6);
      await c.ok('service', 'rm', waiter);
    }
  } finally {
    await c.destroy();
  }
  return { rounds, ms };
}

interface EngineEvent {
  id: string;
  status: string;
  timeNano: number;
}

async function engineEvents(since: number): Promise<EngineEvent[]> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const stream = (await docker.getEvents({ since, until, filters: { type: ['container'] } })) as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EngineEvent);
}

export function resourcesReport(f: ResourcesFigures): string[] {
  const med = (xs: number[]) => percentile(xs, 0.5);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  const { probe, room } = f;
  return [
    `resources, reading CPU throttling per probe: ${probe.tasks} tasks on one container with --limit-cpu 0.5, a check ` +
      `answered at once every ${INTERVAL_MS} ms, ${ROUNDS} interleaved rounds of ${ROUND_MS / 1000} s (${probe.runs.toFixed(0)} runs):`,
    `  the prober's CPU per 1,000 runs without reading: ${list(probe.withoutMsPer1000)} ms (median ${med(probe.withoutMsPer1000).toFixed(1)})`,
    `  with reading cpu.stat before and after each: ${list(probe.withMsPer1000)} ms (median ${med(probe.withMsPer1000).toFixed(1)}); ` +
      `the reading costs ${(med(probe.withMsPer1000) - med(probe.withoutMsPer1000)).toFixed(1)} ms per 1,000 runs`,
    `resources, a node's room freeing (the holder's container died) → the task waiting for it running (its container started), ` +
      `${room.rounds} rounds: ${room.ms.map((x) => x.toFixed(0)).join(', ')} ms (median ${med(room.ms).toFixed(0)}, max ${Math.max(...room.ms).toFixed(0)})`,
  ];
}
