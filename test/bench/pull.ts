/**
 * Images from a registry on a cold node: `service create` → all tasks running for a ~180 MB image
 * that the node lacks, next to `docker pull` + `docker run` of the same image from the same
 * registry in the same run (alternating, the local copy removed before each); and 10 replicas of
 * one uncached image on one node: how many pulls the worker made and how many blobs the registry
 * served.
 */
import { spawn } from 'node:child_process';
import { createControlClient, unary, type wire } from '@warren/api';
import { Cluster, docker, waitFor } from '../helpers/cluster.js';
import { Registry, pushImage, removeLocal } from '../helpers/registry.js';
import { percentile } from './stats.js';

export interface PullFigures {
  sizeMiB: number;
  rounds: number;
  warrenMs: number;
  dockerMs: number;
  overhead: number;
  /** The pull alone: the worker's (`image pulled` ms) and `docker pull`'s, medians. */
  warrenPullMs: number;
  dockerPullMs: number;
  replicas: number;
  pulls: number;
  blobGets: number;
  blobs: number;
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

export async function pullBench(rounds: number, sizeMiB = 180): Promise<PullFigures> {
  const registry = await Registry.start();
  const warrenMs: number[] = [];
  const dockerMs: number[] = [];
  const warrenPullMs: number[] = [];
  const dockerPullMs: number[] = [];
  let replicaFigures = { pulls: 0, blobGets: 0, blobs: 0 };
  try {
    const image = await pushImage(registry, 'bench/big', 'v1', { sizeMiB, layers: 3 });
    const pinned = `${registry.host}/bench/big@${image.digest}`;
    const clean = async (): Promise<void> => {
      await removeLocal(image.ref).catch(() => undefined);
      await removeLocal(pinned).catch(() => undefined);
    };
    const dockerSide = async (): Promise<void> => {
      await clean();
      const t0 = performance.now();
      await run('docker', ['pull', '-q', image.ref]);
      dockerPullMs.push(performance.now() - t0);
      const id = await run('docker', ['run', '-d', image.ref, 'sleep', '1000']);
      dockerMs.push(performance.now() - t0);
      await docker.getContainer(id).remove({ force: true });
    };
    const warrenSide = async (): Promise<void> => {
      await clean();
      const warren = await warrenColdStart(image.ref, 1);
      warrenMs.push(warren.ms);
      warrenPullMs.push(warren.pullMs);
    };
    // The sides alternate which goes first, so neither always follows the other's clean-up.
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? [dockerSide, warrenSide] : [warrenSide, dockerSide]) await side();
    }
    await clean();
    replicaFigures = await tenReplicas(registry, image.ref, pinned);
    await clean();
  } finally {
    await registry.stop();
  }
  const warren = percentile(warrenMs, 0.5);
  const dockerMedian = percentile(dockerMs, 0.5);
  return {
    sizeMiB,
    rounds,
    warrenMs: warren,
    dockerMs: dockerMedian,
    overhead: warren / dockerMedian - 1,
    warrenPullMs: percentile(warrenPullMs, 0.5),
    dockerPullMs: percentile(dockerPullMs, 0.5),
    replicas: 10,
    ...replicaFigures,
  };
}

/** `warren service create` (the CLI call) → `replicas` tasks running, on a fresh one-node cluster. */
async function warrenColdStart(ref: string, replicas: number): Promise<{ ms: number; pullMs: number }> {
  const c = await Cluster.create();
  try {
    const worker = await c.startWorker('w1');
    const t0 = performance.now();
    await c.ok('service', 'create', 'big', '--image', ref, '--replicas', String(replicas), '--', 'sleep', '1000');
    const control = createControlClient(c.address);
    try {
      await waitFor(
        'all running',
        async () => {
          const res = await unary<object, wire.ListTasksResponseOut>(control.ListTasks, control, { service: 'big' });
          return res.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').length === replicas;
        },
        300_000,
        10,
      );
    } finally {
      control.close();
    }
    const ms = performance.now() - t0;
    const pulled = worker.lines.find((l) => l.msg === 'image pulled');
    return { ms, pullMs: typeof pulled?.ms === 'number' ? pulled.ms : NaN };
  } finally {
    await c.destroy();
  }
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
