/**
 * Detection: with `--health-interval 1s --health-retries 3`, the time from breaking a
 * container's check to the task turning unhealthy, next to the theoretical bound.
 *
 * The task's command removes /ok 2-3 s (at random) after it starts, so breaks fall anywhere in
 * the probe cycle, and prints "broken"; Docker stamps that
 * line (docker logs --timestamps), which is the break time. The verdict is the manager's
 * `health transition` log line (liveness → unhealthy). Each failed task is replaced by the
 * reconciler, so rounds follow one another by themselves.
 *
 * Bound: runs start every interval + d (d: a run's duration); the previous run may have started
 * just before the break, so the third failing run ends at most 3 × (interval + d) after it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TEST_IMAGE, docker, runWarren, spawnWarren, waitFor, type TaskJson } from '../helpers/cluster.js';
import { percentile } from './stats.js';

export interface DetectionFigures {
  rounds: number;
  intervalMs: number;
  retries: number;
  meanRunMs: number;
  boundMs: number;
  p50: number;
  p99: number;
  max: number;
  reportP99: number;
}

export async function detection(rounds: number): Promise<DetectionFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const name = `bench${randomBytes(3).toString('hex')}`;
  const up = spawnWarren([
    'up',
    '--data-dir',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--name',
    name,
  ]);
  const nodeId = async () => (await up.waitForLog((l) => l.msg === 'registered with manager')).id as string;
  try {
    const address = (await up.waitForLog((l) => typeof l.joinToken === 'string')).socket as string;
    await up.waitForLog((l) => l.msg === 'assignments received');
    const cli = async (...args: string[]) => {
      const res = await runWarren(['--manager', address, ...args]);
      if (res.code !== 0) throw new Error(res.stderr);
      return res.stdout;
    };
    // --restart-window 1s: each task is healthy for 2-3 s before it breaks, so its slot is
    // forgiven and every round is a first failure, replaced at once.
    await cli(
      'service',
      'create',
      '--detach',
      'detect',
      '--image',
      TEST_IMAGE,
      '--stop-timeout',
      '1s',
      '--restart-window',
      '1s',
      '--health-cmd',
      'test -f /ok',
      '--health-interval',
      '1s',
      '--health-timeout',
      '1s',
      '--health-retries',
      '3',
      '--',
      'sh',
      '-c',
      'touch /ok; sleep 2.$(printf %03d $((RANDOM % 1000))); rm /ok; echo broken; exec sleep 1000',
    );

    const seen = new Set<string>();
    const detections: number[] = [];
    const reports: number[] = [];
    const durations: number[] = [];
    await waitFor(
      `${rounds} rounds`,
      async () => {
        const tasks = JSON.parse(await cli('service', 'ps', 'detect', '--format', 'json')) as TaskJson[];
        for (const task of tasks.filter((t) => t.state === 'failed' && !seen.has(t.id))) {
          seen.add(task.id);
          const logs = (await docker
            .getContainer(task.containerId)
            .logs({ stdout: true, stderr: true, timestamps: true })) as unknown as Buffer;
          const line = logs
            .toString('latin1')
            .split('\n')
            .find((l) => l.includes('broken'));
          const stamp = line?.match(/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z/)?.[1];
          const verdict = up.lines.find(
            (l) =>
              l.msg === 'health transition' && l.task === task.id && l.phase === 'liveness' && l.to === 'unhealthy',
          );
          const atWorker = up.lines.find((l) => l.msg === 'liveness unhealthy' && l.task === task.id);
          if (!stamp || !verdict || !atWorker) continue;
          const brokeAt = Date.parse(`${stamp.slice(0, 23)}Z`) + Number(`0.${stamp.slice(23) || '0'}`);
          detections.push((verdict.time as number) - brokeAt);
          reports.push((verdict.time as number) - (atWorker.time as number));
          durations.push(...task.results.filter((r) => r.counted).map((r) => r.durationMs));
        }
        return detections.length >= rounds;
      },
      rounds * 15_000,
      250,
    );
    await cli('service', 'rm', 'detect');
    const meanRunMs = durations.reduce((a, b) => a + b, 0) / durations.length;
    return {
      rounds: detections.length,
      intervalMs: 1000,
      retries: 3,
      meanRunMs,
      boundMs: 3 * (1000 + meanRunMs),
      p50: percentile(detections, 0.5),
      p99: percentile(detections, 0.99),
      max: Math.max(...detections),
      reportP99: percentile(reports, 0.99),
    };
  } finally {
    const id = await Promise.race([nodeId(), new Promise<string>((r) => setTimeout(() => r(''), 100))]);
    await up.kill('SIGTERM');
    if (id) {
      const left = await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${id}`] } });
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
}
