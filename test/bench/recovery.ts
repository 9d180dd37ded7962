/**
 * Time to recover, Warren next to Docker Swarm in the same run: one replica of warren-test, the
 * exec check `test -f /ok`, interval 1s, retries 3, timeout 1s. The task's command removes /ok at
 * a random moment 3-4 s after it starts and prints "broken" (Docker stamps the line: the break
 * time). Stages, from the break: unhealthy → replacement started → replacement healthy.
 * Swarm's come from Docker's event stream, Warren's from its own events. Each round is a new
 * service, so every round is a first failure (no backoff on either side).
 * Swarm mode is left as it was found: initialised for the run and left after, if it was off.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { TEST_IMAGE, docker, runWarren, spawnWarren, waitFor } from '../helpers/cluster.js';

const run = promisify(execFile);
const COMMAND = 'touch /ok; sleep 3.$(printf %03d $((RANDOM % 1000))); rm /ok; echo broken; exec sleep 1000';

export interface Stages {
  unhealthy: number;
  started: number;
  healthy: number;
}

/** The time Docker stamped the "broken" line of a container. */
async function brokeAt(containerId: string): Promise<number | undefined> {
  const logs = (await docker
    .getContainer(containerId)
    .logs({ stdout: true, stderr: true, timestamps: true })) as unknown as Buffer;
  const stamp = logs.toString('latin1').match(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z broken/)?.[1];
  return stamp ? Date.parse(`${stamp.slice(0, 23)}Z`) + Number(`0.${stamp.slice(23) || '0'}`) : undefined;
}

export async function swarmRecovery(rounds: number): Promise<Stages[]> {
  const wasActive =
    (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim() === 'active';
  if (!wasActive) await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  const results: Stages[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const name = `warren-bench-swarm-${randomBytes(3).toString('hex')}`;
      const since = Math.floor(Date.now() / 1000);
      await run('docker', [
        'service',
        'create',
        '--quiet',
        '--detach',
        '--no-resolve-image',
        '--name',
        name,
        '--health-cmd',
        'test -f /ok',
        '--health-interval',
        '1s',
        '--health-retries',
        '3',
        '--health-timeout',
        '1s',
        TEST_IMAGE,
        'sh',
        '-c',
        COMMAND,
      ]);
      try {
        type DockerEvent = { Action: string; id: string; timeNano: number };
        const events = async (): Promise<DockerEvent[]> => {
          const stream = (await docker.getEvents({
            since,
            until: Math.ceil(Date.now() / 1000),
            filters: { type: ['container'], label: [`com.docker.swarm.service.name=${name}`] },
          } as object)) as unknown as NodeJS.ReadableStream;
          let raw = '';
          for await (const chunk of stream) raw += String(chunk);
          return raw
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as DockerEvent);
        };
        const stages = await waitFor(
          'swarm replacement healthy',
          async () => {
            const list = await events();
            const starts = list.filter((e) => e.Action === 'start');
            if (starts.length < 2) return undefined;
            const [first, second] = starts as [DockerEvent, DockerEvent];
            const unhealthy = list.find((e) => e.id === first.id && e.Action === 'health_status: unhealthy');
            const healthy = list.find((e) => e.id === second.id && e.Action === 'health_status: healthy');
            const broke = await brokeAt(first.id);
            if (!unhealthy || !healthy || broke === undefined) return undefined;
            return {
              unhealthy: unhealthy.timeNano / 1e6 - broke,
              started: second.timeNano / 1e6 - broke,
              healthy: healthy.timeNano / 1e6 - broke,
            };
          },
          90_000,
          500,
        );
        results.push(stages);
      } finally {
        await run('docker', ['service', 'rm', name]);
        await waitFor(
          'swarm containers gone',
          async () =>
            (await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${name}`] } }))
              .length === 0,
          60_000,
          250,
        );
      }
    }
  } finally {
    if (!wasActive) await run('docker', ['swarm', 'leave', '--force']);
  }
  return results;
}

export async function warrenRecovery(rounds: number): Promise<{ stages: Stages[]; decisionMs: number[] }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const up = spawnWarren([
    'up',
    '--data-dir',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--name',
    `bench${randomBytes(3).toString('hex')}`,
  ]);
  let nodeId = '';
  const results: Stages[] = [];
  const decisionMs: number[] = [];
  try {
    const address = (await up.waitForLog((l) => typeof l.joinToken === 'string')).socket as string;
    nodeId = (await up.waitForLog((l) => l.msg === 'registered with manager')).id as string;
    await up.waitForLog((l) => l.msg === 'assignments received');
    const cli = async (...args: string[]): Promise<string> => {
      const res = await runWarren(['--manager', address, ...args]);
      if (res.code !== 0) throw new Error(res.stderr);
      return res.stdout;
    };
    for (let round = 0; round < rounds; round++) {
      const name = `recover${round}`;
      await cli(
        'service',
        'create',
        '--detach',
        name,
        '--image',
        TEST_IMAGE,
        '--stop-timeout',
        '1s',
        '--health-cmd',
        'test -f /ok',
        '--health-interval',
        '1s',
        '--health-retries',
        '3',
        '--health-timeout',
        '1s',
        '--',
        'sh',
        '-c',
        COMMAND,
      );
      type E = { type: string; taskId: string; time: string; data: Record<string, string> };
      const stages = await waitFor(
        'warren replacement healthy',
        async () => {
          const list = (await cli('events', '--service', name, '--since', '5m', '--until', '0s', '--format', 'json'))
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as E);
          const at = (e: E | undefined): number | undefined => (e ? Date.parse(e.time) : undefined);
          const unhealthy = list.find(
            (e) => e.type === 'health-transition' && e.data.phase === 'liveness' && e.data.to === 'unhealthy',
          );
          const replaced = list.find((e) => e.type === 'task-replaced');
          const started = list.find((e) => e.type === 'task-running' && e.taskId === replaced?.taskId);
          const healthy = list.find(
            (e) =>
              e.type === 'health-transition' &&
              e.taskId === replaced?.taskId &&
              e.data.phase === 'liveness' &&
              e.data.to === 'healthy',
          );
          if (!unhealthy || !replaced || !started || !healthy) return undefined;
          const tasks = JSON.parse(await cli('service', 'ps', name, '--format', 'json')) as Array<{
            id: string;
            containerId: string;
          }>;
          const broke = await brokeAt(tasks.find((x) => x.id === unhealthy.taskId)!.containerId);
          if (broke === undefined) return undefined;
          decisionMs.push(at(replaced)! - Number(unhealthy.data.receivedAt));
          return { unhealthy: at(unhealthy)! - broke, started: at(started)! - broke, healthy: at(healthy)! - broke };
        },
        60_000,
        250,
      );
      results.push(stages);
      await cli('service', 'rm', name);
    }
  } finally {
    await up.kill('SIGTERM');
    if (nodeId) {
      const left = await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } });
      await Promise.all(
        left.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
    }
    await rm(dataDir, { recursive: true, force: true });
  }
  return { stages: results, decisionMs };
}
