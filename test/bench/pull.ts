/**
 * Images from a registry on a cold node: `service create` → all tasks running for a ~180 MB image
 * that the node lacks, next to `docker pull` + `docker run` of the same image from the same
 * registry in the same run (alternating, the local copy removed before each); and 10 replicas of
 * one uncached image on one node: how many pulls the worker made and how many blobs the registry
 * served.
 */
import { spawn } from 'node:child_process';
import { createControlClient, unary, type wire } from '@warren/api';
import { Cluster, docker } from '../helpers/cluster.js';
import { Registry, pushImage, removeLocal } from '../helpers/registry.js';
import { percentile } from './stats.js';

export interface PullFigures {
  sizeMiB: number;
  rounds: number;
  /** From the commands: `warren service create` next to `docker pull` + `docker run`, medians. */
  cli: Comparison;
  /** From the APIs: the CreateService RPC next to the Engine API's pull + create + start, medians. */
  api: Comparison;
  replicas: number;
  pulls: number;
  blobGets: number;
  blobs: number;
}

export interface Comparison {
  warrenMs: number;
  dockerMs: number;
  overhead: number;
  /** The pull alone: the worker's (`image pulled` ms) and Docker's. */
  warrenPullMs: number;
  dockerPullMs: number;
}

interface Samples {
  warren: number[];
  docker: number[];
  warrenPull: number[];
  dockerPull: number[];
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${command} exited ${code}`))));
  });
}

const samples = (): Samples => ({ warren: [], docker: [], warrenPull: [], dockerPull: [] });

function compare(s: Samples): Comparison {
  const warrenMs = percentile(s.warren, 0.5);
  const dockerMs = percentile(s.docker, 0.5);
  return {
    warrenMs,
    dockerMs,
    overhead: warrenMs / dockerMs - 1,
    warrenPullMs: percentile(s.warrenPull, 0.5),
    dockerPullMs: percentile(s.dockerPull, 0.5),
  };
}

export async function pullBench(rounds: number, sizeMiB = 180): Promise<PullFigures> {
  const registry = await Registry.start();
  const cli = samples();
  const api = samples();
  let replicaFigures = { pulls: 0, blobGets: 0, blobs: 0 };
  try {
    const image = await pushImage(registry, 'bench/big', 'v1', { sizeMiB, layers: 3 });
    const pinned = `${registry.host}/bench/big@${image.digest}`;
    const clean = async (): Promise<void> => {
      await removeLocal(image.ref).catch(() => undefined);
      await removeLocal(pinned).catch(() => undefined);
    };
    const dockerCli = async (): Promise<void> => {
      const t0 = performance.now();
      await run('docker', ['pull', '-q', image.ref]);
      cli.dockerPull.push(performance.now() - t0);
      const id = await run('docker', ['run', '-d', image.ref, 'sleep', '1000']);
      cli.docker.push(performance.now() - t0);
      await docker.getContainer(id).remove({ force: true });
    };
    const dockerApi = async (): Promise<void> => {
      const t0 = performance.now();
      const stream = await docker.pull(image.ref);
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
      );
      api.dockerPull.push(performance.now() - t0);
      const container = await docker.createContainer({ Image: image.ref, Cmd: ['sleep', '1000'] });
      await container.start();
      api.docker.push(performance.now() - t0);
      await container.remove({ force: true });
    };
    const warrenSide = (via: 'cli' | 'api', into: Samples) => async (): Promise<void> => {
      const warren = await warrenColdStart(image.ref, 1, via);
      into.warren.push(warren.ms);
      into.warrenPull.push(warren.pullMs);
    };
    const sides = [dockerCli, warrenSide('cli', cli), dockerApi, warrenSide('api', api)];
    // Each round starts one side later, so none always follows another's clean-up.
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < sides.length; i++) {
        await clean();
        await sides[(round + i) % sides.length]!();
      }
    }
    await clean();
    replicaFigures = await tenReplicas(registry, image.ref, pinned);
    await clean();
  } finally {
    await registry.stop();
  }
  return { sizeMiB, rounds, cli: compare(cli), api: compare(api), replicas: 10, ...replicaFigures };
}

/**
 * Service create → `replicas` tasks running, on a fresh one-node cluster: through the CLI (a new
 * `warren` process, as a user types it) or through the CreateService RPC on a connected client.
 * The end is seen by following the manager's events (`task-running`), not by polling: polling
 * every few milliseconds took CPU from the pull it was timing (about 0.3 s of a 2 s pull here).
 */
async function warrenColdStart(
  ref: string,
  replicas: number,
  via: 'cli' | 'api',
): Promise<{ ms: number; pullMs: number }> {
  const c = await Cluster.create();
  try {
    const worker = await c.startWorker('w1');
    const control = c.controlClient();
    const events = control.WatchEvents({ service: 'big', sinceMs: Date.now() });
    try {
      const running = new Promise<number>((resolve, reject) => {
        let count = 0;
        events.on('data', (e: wire.EventOut) => {
          if (e.type === 'task-running' && ++count === replicas) resolve(performance.now());
        });
        events.on('error', reject);
      });
      running.catch(() => undefined); // the cancel below ends the stream with an error
      await unary(control.ListNodes, control, {}); // connected before the clock starts
      const t0 = performance.now();
      if (via === 'cli') {
        await c.ok('service', 'create', 'big', '--image', ref, '--replicas', String(replicas), '--', 'sleep', '1000');
      } else {
        const spec = { name: 'big', image: ref, replicas, command: ['sleep', '1000'] };
        await unary(control.CreateService, control, { spec });
      }
      const ms = (await withTimeout(running, 300_000, 'all running')) - t0;
      const pulled = worker.lines.find((l) => l.msg === 'image pulled');
      return { ms, pullMs: typeof pulled?.ms === 'number' ? pulled.ms : NaN };
    } finally {
      events.cancel();
      control.close();
    }
  } finally {
    await c.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** 10 replicas of one uncached image on one node: the worker's pulls and the registry's blob GETs. */
async function tenReplicas(
  registry: Registry,
  ref: string,
  pinned: string,
): Promise<{ pulls: number; blobGets: number; blobs: number }> {
  const before = registry.blobGets('bench/big');
  const c = await Cluster.create();
  try {
    const worker = await c.startWorker('w1');
    await c.ok('service', 'create', 'big', '--image', ref, '--replicas', '10', '--', 'sleep', '1000');
    await c.waitRunning('big', 10, 300_000);
    const pulls = worker.lines.filter((l) => l.msg === 'pulling image').length;
    // The worker pulls the pinned reference: the image has the digest, not the tag.
    const blobs = ((await docker.getImage(pinned).inspect()).RootFS.Layers?.length ?? 0) + 1;
    await registry.waitForBlobGets(before + blobs, { repo: 'bench/big' });
    return { pulls, blobGets: registry.blobGets('bench/big') - before, blobs };
  } finally {
    await c.destroy();
  }
}
