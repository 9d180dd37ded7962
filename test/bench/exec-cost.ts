/**
 * Exec probes against one container: latency, throughput, and the machine's CPU per probe
 * (dockerd + containerd + shims + runc + the prober, read from /proc/stat) next to Docker's own
 * HEALTHCHECK running the same command at the same interval, in the same run.
 */
import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { Semaphore, execProbe } from '@warren/worker';
import { TEST_IMAGE } from '../helpers/cluster.js';
import { percentile } from './stats.js';

const docker = new Docker();
const COMMAND = ['/bin/sh', '-c', 'true'];

export interface ExecFigures {
  intervalMs: number;
  seconds: number;
  warren: { probes: number; cpuMsPerProbe: number; p50: number; p99: number };
  docker: { probes: number; cpuMsPerProbe: number };
  ratio: number;
  burst: { concurrency: number; probesPerSecond: number; p50: number; p99: number };
}

/** Busy CPU time of the whole machine so far, in ms (from /proc/stat, USER_HZ = 100). */
async function machineBusyMs(): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
  const f = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return (total - idle) * 10;
}

async function idleRate(ms: number): Promise<number> {
  const b0 = await machineBusyMs();
  await new Promise((r) => setTimeout(r, ms));
  return ((await machineBusyMs()) - b0) / ms;
}

async function run(name: string, extra: Partial<Docker.ContainerCreateOptions> = {}): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: ['sleep', '100000'],
    HostConfig: { Init: true },
    Labels: { 'warren.bench': '1' },
    ...extra,
  });
  await container.start();
  return container;
}

export async function execCost(intervalMs: number, seconds: number): Promise<ExecFigures> {
  const suffix = Math.random().toString(16).slice(2, 8);
  const target = await run(`warren-bench-exec-${suffix}`);
  // The machine's idle load, with the target container running and nothing probing it.
  const baseline = await idleRate(5000);
  const limit = new Semaphore(8);
  const handler = { kind: 'exec' as const, command: COMMAND };
  try {
    // Warren: the real exec handler, fixed delay, like one task's probe.
    const latencies: number[] = [];
    const b0 = await machineBusyMs();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const s = performance.now();
      const r = await execProbe(docker, limit, handler, { containerId: target.id, address: '' }, 5000);
      if (r.outcome !== 'success') throw new Error(`exec probe failed: ${r.output}`);
      latencies.push(performance.now() - s);
      await new Promise((res) => setTimeout(res, intervalMs));
    }
    const wall = performance.now() - t0;
    const warrenCpu = (await machineBusyMs()) - b0 - baseline * wall;

    // Burst: 8 probes in flight at once against the same container.
    const burst: number[] = [];
    const tb = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() - tb < 5000) {
          const s = performance.now();
          await execProbe(docker, limit, handler, { containerId: target.id, address: '' }, 5000);
          burst.push(performance.now() - s);
        }
      }),
    );
    const burstWall = performance.now() - tb;
    await target.remove({ force: true });

    // Docker's own HEALTHCHECK: same command (CMD-SHELL runs /bin/sh -c), same interval.
    const ns = intervalMs * 1_000_000;
    const healthy = await run(`warren-bench-hc-${suffix}`, {
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: ns, Timeout: 5_000_000_000, Retries: 3, StartPeriod: 0 },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const since = Math.floor(Date.now() / 1000);
    const d0 = await machineBusyMs();
    const td = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const dWall = performance.now() - td;
    const dockerCpu = (await machineBusyMs()) - d0 - baseline * dWall;
    const until = Math.ceil(Date.now() / 1000);
    const events = (await docker.getEvents({
      since,
      until,
      filters: { container: [healthy.id], event: ['exec_die'] },
    } as Docker.GetEventsOptions)) as unknown as NodeJS.ReadableStream;
    let raw = '';
    for await (const chunk of events) raw += String(chunk);
    // The whole-second event window can hold a probe or two outside the CPU window: scale.
    const dockerProbes = Math.round(
      (raw.split('\n').filter((l) => l.includes('exec_die')).length * dWall) / ((until - since) * 1000),
    );
    await healthy.remove({ force: true });

    const warrenPer = warrenCpu / latencies.length;
    const dockerPer = dockerCpu / dockerProbes;
    return {
      intervalMs,
      seconds,
      warren: {
        probes: latencies.length,
        cpuMsPerProbe: warrenPer,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
      },
      docker: { probes: dockerProbes, cpuMsPerProbe: dockerPer },
      ratio: warrenPer / dockerPer,
      burst: {
        concurrency: 8,
        probesPerSecond: (burst.length / burstWall) * 1000,
        p50: percentile(burst, 0.5),
        p99: percentile(burst, 0.99),
      },
    };
  } finally {
    const left = await docker.listContainers({ all: true, filters: { label: ['warren.bench=1'] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}
