/**
 * Rollouts, Warren next to Docker Swarm in the same run, on the same engine and images (v1, v2
 * and a bad one whose /health is missing, built FROM warren-test), the same check (GET /health,
 * interval 1s, retries 3, timeout 1s: Warren's HTTP probe, Swarm's `--health-cmd wget …`) and the
 * same policies (Swarm's defaults: parallelism 1, monitor 5s, stop-first):
 *
 *   - bad image: 3 replicas on v2, `service update --image bad --update-failure-action rollback
 *     --update-monitor 5s` → every replica back on v2, running and healthy (and the rollback's end);
 *   - good update: 6 replicas v1 → v2 with `--update-parallelism 2` → the update completed; Swarm
 *     also with `--update-delay 5s`: its monitor does not hold the next batch, Warren's does;
 *   - failed requests (Warren): both of the above under constant load through a published port.
 *     Swarm's published ports need its routing mesh (IPVS), which this kernel does not have.
 *
 * Each side is timed from the start of its CLI's `service update --detach` and observed through
 * its API every 100 ms. Swarm mode is left as it was found.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { createControlClient, unary, type wire } from '@warren/api';
import { docker, runWarren, spawnWarren, waitFor } from '../helpers/cluster.js';
import { Load } from '../helpers/load.js';
import { portFreeOn } from '../helpers/ports.js';
import { buildVersion, removeVersions } from '../helpers/versions.js';

const run = promisify(execFile);
const REPOSITORY = 'warren-bench-update';
const POLL_MS = 100;
/** httpd that exits at once on SIGTERM (as PID 1 it would ignore it and wait out the stop timeout). */
const COMMAND = ['sh', '-c', 'httpd -f -p 80 -h /www & pid=$!; trap "kill $pid; exit 0" TERM; wait'];

/** One look at a service: its rollout's state and its live tasks. */
interface Snapshot {
  rollout: string;
  tasks: Array<{ image: string; good: boolean }>;
}

interface System {
  readonly name: string;
  create(service: string, image: string, replicas: number, publish?: number): Promise<void>;
  /** Runs the CLI's `service update --detach`. */
  update(service: string, flags: string[]): Promise<void>;
  look(service: string): Promise<Snapshot>;
  remove(service: string): Promise<void>;
}

export interface Timing {
  /** From `update` to every replica running, healthy, on the good version. */
  backMs: number;
  /** From `update` to the rollout's end (completed, or rollback_completed). */
  endMs: number;
}

export interface UpdateFigures {
  rounds: number;
  bad: { warren: Timing[]; swarm: Timing[] };
  /** swarmHeld: Swarm with `--update-delay 5s`, the nearest it has to holding each batch for the monitor period. */
  good: { warren: Timing[]; swarm: Timing[]; swarmHeld: Timing[] };
  load: { good: LoadFigure; rollback: LoadFigure };
}

export interface LoadFigure {
  requests: number;
  failed: number;
  errors: string[];
}

const allOn = (s: Snapshot, image: string, replicas: number): boolean =>
  s.tasks.length === replicas && s.tasks.every((t) => t.good && t.image === image);

/** Times one rollout: `update`, then looks until every replica is on `image` and the rollout is `end`. */
async function timeRollout(
  system: System,
  service: string,
  flags: string[],
  o: { image: string; replicas: number; end: string; rolledBack: boolean },
): Promise<Timing> {
  const t0 = performance.now();
  await system.update(service, flags);
  let backMs: number | undefined;
  return waitFor(
    `${system.name} ${service}: ${o.end}`,
    async () => {
      const s = await system.look(service);
      // Before a rollback started, every replica is still on the good version: that is not "back".
      const counts = !o.rolledBack || s.rollout.startsWith('rollback');
      if (backMs === undefined && counts && allOn(s, o.image, o.replicas)) backMs = performance.now() - t0;
      if (s.rollout === o.end && backMs !== undefined) return { backMs, endMs: performance.now() - t0 };
      return undefined;
    },
    300_000,
    POLL_MS,
  );
}

async function warrenSystem(dataDir: string): Promise<System & { stop(): Promise<void> }> {
  const up = spawnWarren(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  try {
    const address = (await up.waitForLog((l) => typeof l.joinToken === 'string')).socket as string;
    await up.waitForLog((l) => l.msg === 'assignments received');
    const control = createControlClient(address);
    const cli = async (...args: string[]): Promise<void> => {
      const res = await runWarren(['--manager', address, ...args]);
      if (res.code !== 0) throw new Error(`warren ${args.join(' ')}: ${res.stderr}`);
    };
    const system: System = {
      name: 'Warren',
      async create(service, image, replicas, publish) {
        const ports = publish ? ['-p', `${publish}:80`] : [];
        await cli('service', 'create', '--detach', service, '--image', image, '--replicas', String(replicas), ...ports,
          '--health-http', 'path=/health,port=80', '--health-interval', '1s', '--health-retries', '3',
          '--health-timeout', '1s', '--', ...COMMAND); // prettier-ignore
      },
      update: (service, flags) => cli('service', 'update', service, '--detach', ...flags),
      async look(service) {
        const d = await unary<object, wire.ServiceDetailOut>(control.InspectService, control, { name: service });
        return {
          rollout: d.service?.updateStatus?.state ?? '',
          tasks: d.tasks
            .filter((t) => t.desiredState === 'running')
            .map((t) => ({
              image: t.spec?.image ?? '',
              good: t.state === 'running' && t.ready && t.healthStatus === 'healthy',
            })),
        };
      },
      async remove(service) {
        await cli('service', 'rm', service);
        // rm returns once the tasks are told to stop: wait for the worker to remove their containers.
        await waitFor(
          'warren containers gone',
          async () =>
            (await docker.listContainers({ all: true, filters: { label: [`warren.service.name=${service}`] } }))
              .length === 0,
          60_000,
          250,
        );
      },
    };
    return {
      ...system,
      async stop() {
        control.close();
        up.process.kill('SIGTERM');
        await up.exited;
      },
    };
  } catch (err) {
    up.process.kill('SIGKILL');
    throw err;
  }
}

const swarmSystem: System = {
  name: 'Swarm',
  async create(service, image, replicas) {
    await run('docker', ['service', 'create', '--quiet', '--detach', '--no-resolve-image', '--name', service,
      '--replicas', String(replicas), '--health-cmd', 'wget -q -O /dev/null http://127.0.0.1/health',
      '--health-interval', '1s', '--health-retries', '3', '--health-timeout', '1s', image, ...COMMAND]); // prettier-ignore
  },
  async update(service, flags) {
    await run('docker', ['service', 'update', '--quiet', '--detach', '--no-resolve-image', ...flags, service]);
  },
  async look(service) {
    const inspected = (await docker.getService(service).inspect()) as { UpdateStatus?: { State?: string } };
    type SwarmTask = { Status: { State: string; ContainerStatus?: { ContainerID?: string } }; Spec: any };
    const tasks = (await docker.listTasks({
      filters: { service: [service], 'desired-state': ['running'] },
    })) as SwarmTask[];
    const containers = await docker.listContainers({
      filters: { label: [`com.docker.swarm.service.name=${service}`] },
    });
    const healthy = new Set(containers.filter((c) => c.Status.includes('(healthy)')).map((c) => c.Id));
    return {
      rollout: inspected.UpdateStatus?.State ?? '',
      tasks: tasks.map((t) => ({
        image: String(t.Spec?.ContainerSpec?.Image ?? ''),
        good: t.Status.State === 'running' && healthy.has(t.Status.ContainerStatus?.ContainerID ?? ''),
      })),
    };
  },
  async remove(service) {
    await run('docker', ['service', 'rm', service]);
    await waitFor(
      'swarm containers gone',
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${service}`] } }))
          .length === 0,
      60_000,
      250,
    );
  },
};

/** Waits until every replica of a new service runs healthy on `image`. */
async function settled(system: System, service: string, image: string, replicas: number): Promise<void> {
  await waitFor(`${system.name} ${service} settled`, async () => allOn(await system.look(service), image, replicas),
    120_000, 250); // prettier-ignore
}

/** A bad image rolled back: 3 replicas on v2, then `--image bad`. */
async function badRollout(system: System, images: Record<'v1' | 'v2' | 'bad', string>): Promise<Timing> {
  const service = `bench-bad-${randomBytes(3).toString('hex')}`;
  await system.create(service, images.v2, 3);
  await settled(system, service, images.v2, 3);
  const flags = ['--image', images.bad, '--update-failure-action', 'rollback', '--update-monitor', '5s'];
  const timing = await timeRollout(system, service, flags, {
    image: images.v2,
    replicas: 3,
    end: 'rollback_completed',
    rolledBack: true,
  });
  await system.remove(service);
  return timing;
}

/** A good rolling update of 6 replicas v1 → v2, parallelism 2 (and `extra` flags). */
async function goodRollout(
  system: System,
  images: Record<'v1' | 'v2' | 'bad', string>,
  extra: string[] = [],
): Promise<Timing> {
  const service = `bench-good-${randomBytes(3).toString('hex')}`;
  await system.create(service, images.v1, 6);
  await settled(system, service, images.v1, 6);
  const flags = ['--image', images.v2, '--update-parallelism', '2', '--update-monitor', '5s', ...extra];
  const timing = await timeRollout(system, service, flags, {
    image: images.v2,
    replicas: 6,
    end: 'completed',
    rolledBack: false,
  });
  await system.remove(service);
  return timing;
}

/** Warren under constant load through a published port: a good update of 6, then a bad one rolled back. */
async function underLoad(system: System, images: Record<'v1' | 'v2' | 'bad', string>): Promise<UpdateFigures['load']> {
  const port = await portFreeOn(['127.0.0.1']);
  const service = `bench-load-${randomBytes(3).toString('hex')}`;
  await system.create(service, images.v1, 6, port);
  await settled(system, service, images.v1, 6);
  const load = new Load([`127.0.0.1:${port}`]).start();
  try {
    await load.flowing();
    const figure = (since: number, until: number): LoadFigure => {
      const window = load.after(since).filter((o) => o.startedAt < until);
      const failed = window.filter((o) => !o.ok);
      return { requests: window.length, failed: failed.length, errors: [...new Set(failed.map((o) => o.error))] };
    };
    let t = Date.now();
    const goodFlags = ['--image', images.v2, '--update-parallelism', '2', '--update-monitor', '5s'];
    await timeRollout(system, service, goodFlags, {
      image: images.v2,
      replicas: 6,
      end: 'completed',
      rolledBack: false,
    });
    const good = figure(t, Date.now());
    t = Date.now();
    const badFlags = ['--image', images.bad, '--update-failure-action', 'rollback', '--update-monitor', '5s'];
    await timeRollout(system, service, badFlags, {
      image: images.v2,
      replicas: 6,
      end: 'rollback_completed',
      rolledBack: true,
    });
    return { good, rollback: figure(t, Date.now()) };
  } finally {
    await load.stop();
    await system.remove(service);
  }
}

export async function updateBench(rounds: number): Promise<UpdateFigures> {
  const images = {
    v1: await buildVersion(REPOSITORY, 'v1'),
    v2: await buildVersion(REPOSITORY, 'v2'),
    bad: await buildVersion(REPOSITORY, 'bad', true),
  };
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const wasActive =
    (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim() === 'active';
  if (!wasActive) await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  const warren = await warrenSystem(dataDir);
  const figures: UpdateFigures = {
    rounds,
    bad: { warren: [], swarm: [] },
    good: { warren: [], swarm: [], swarmHeld: [] },
    load: { good: { requests: 0, failed: 0, errors: [] }, rollback: { requests: 0, failed: 0, errors: [] } },
  };
  try {
    // Alternate the systems, so that neither always runs on a warmer machine.
    for (let i = 0; i < rounds; i++) {
      figures.bad.warren.push(await badRollout(warren, images));
      figures.bad.swarm.push(await badRollout(swarmSystem, images));
      figures.good.warren.push(await goodRollout(warren, images));
      figures.good.swarm.push(await goodRollout(swarmSystem, images));
      figures.good.swarmHeld.push(await goodRollout(swarmSystem, images, ['--update-delay', '5s']));
    }
    figures.load = await underLoad(warren, images);
  } finally {
    await warren.stop();
    if (!wasActive) await run('docker', ['swarm', 'leave', '--force']);
    await rm(dataDir, { recursive: true, force: true });
    await removeVersions(Object.values(images));
  }
  return figures;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function updateReport(f: UpdateFigures): string[] {
  const side = (t: Timing[]): string =>
    `back ${s(median(t.map((x) => x.backMs)))} (${t.map((x) => s(x.backMs)).join(', ')}), ` +
    `rollout ended ${s(median(t.map((x) => x.endMs)))}`;
  const ratio = (a: Timing[], b: Timing[], key: keyof Timing): string =>
    (median(b.map((x) => x[key])) / median(a.map((x) => x[key]))).toFixed(1);
  const load = (l: LoadFigure): string =>
    `${l.failed} failed of ${l.requests}${l.errors.length ? ` (${l.errors.join(', ')})` : ''}`;
  return [
    `update: bad image → back on the good version (3 replicas, failure action rollback, monitor 5s), median of ${f.rounds}`,
    `  Warren: ${side(f.bad.warren)}`,
    `  Swarm:  ${side(f.bad.swarm)}`,
    `  Warren faster by ${ratio(f.bad.warren, f.bad.swarm, 'backMs')}× to back (target ≥ 3×), ` +
      `${ratio(f.bad.warren, f.bad.swarm, 'endMs')}× to the rollback's end`,
    `update: good rolling update v1 → v2, 6 replicas, parallelism 2, monitor 5s, median of ${f.rounds}`,
    `  Warren: ${side(f.good.warren)}`,
    `  Swarm:  ${side(f.good.swarm)} — its monitor only counts failures; the next batch starts once one runs`,
    `  Swarm with --update-delay 5s (each batch held 5 s after it runs, unverified): ${side(f.good.swarmHeld)}`,
    `update: under constant load through a published port (Warren; 6 replicas): good update ${load(f.load.good)}, ` +
      `bad image rolled back ${load(f.load.rollback)} (target 0)`,
  ];
}
