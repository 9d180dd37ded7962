/**
 * Manager ingest: N simulated workers (in-process gRPC clients, no containers) stream health
 * results for 10,000 tasks to a real `warren manager` process. Reports results per second
 * acknowledged (each batch is acked once fsynced), send → ack latency, and the manager's RSS
 * over the run.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlClient, unary, type wire } from '@warren/api';
import { joinSimulated } from '../helpers/sim-worker.js';
import { spawnWarren, waitFor } from '../helpers/cluster.js';
import { percentile } from './stats.js';

const IMAGE = 'bench-image:latest';

export interface IngestFigures {
  workers: number;
  tasks: number;
  offeredPerSecond: number;
  resultsPerSecond: number;
  ackP50: number;
  ackP99: number;
  rssStartMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

/** `managerArgs`: more flags for the manager (`--store etcd://…` to measure on etcd). */
export async function ingest(
  workers: number,
  offeredPerSecond: number,
  seconds: number,
  managerArgs: string[] = [],
): Promise<IngestFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  // WARREN_BENCH_PROFILE=DIR: the manager's CPU profile, written there when it stops.
  const profile = process.env.WARREN_BENCH_PROFILE;
  const manager = spawnWarren(
    ['manager', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...managerArgs],
    { WARREN_LOG_LEVEL: 'info' },
    profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  );
  const abort = new AbortController();
  try {
    const started = await manager.waitForLog((l) => typeof l.joinToken === 'string');
    const address = started.address as string;
    const token = started.joinToken as string;
    const caPem = await readFile(join(dataDir, 'certs', 'ca.crt'), 'utf8');

    // Simulated workers: register, hold an assignment stream, heartbeat.
    const sims = await Promise.all(
      Array.from({ length: workers }, async (_, i) => {
        const { client, nodeId } = await joinSimulated(address, token, caPem, { name: `sim-${i}`, images: [IMAGE] });
        const reg = { nodeId };
        const tasks = new Set<string>();
        const stream = client.Assignments({ nodeId: reg.nodeId });
        stream.on('data', (m: wire.AssignmentsMessageOut) => {
          for (const t of m.tasks) if (t.desiredState === 'running') tasks.add(t.id);
          for (const id of m.removedTaskIds) tasks.delete(id);
        });
        stream.on('error', () => undefined);
        const beat = setInterval(() => client.Heartbeat({ nodeId: reg.nodeId }, () => undefined), 500);
        abort.signal.addEventListener('abort', () => {
          clearInterval(beat);
          stream.cancel();
        });
        return { client, nodeId: reg.nodeId, tasks };
      }),
    );

    const control = createControlClient(started.socket as string);
    const check = { exec: { command: ['true'] }, intervalMs: 1000 };
    for (let s = 0; s < 10; s++) {
      await unary(control.CreateService, control, {
        spec: { name: `ingest${s}`, image: IMAGE, replicas: 1000, command: ['sleep', '1'], health: { check } },
      });
    }
    control.close();
    await waitFor('10,000 tasks assigned', () => sims.reduce((n, s) => n + s.tasks.size, 0) === 10_000, 120_000, 100);

    // Stream results: every 20 ms each worker sends one batch, round-robin over its tasks.
    const perBatch = Math.max(1, Math.round(offeredPerSecond / workers / 50));
    const latencies: number[] = [];
    let acked = 0;
    let measuring = false;
    const rss: number[] = [];
    const pid = manager.process.pid!;
    const streams = sims.map((sim) => {
      const ids = [...sim.tasks];
      const call = sim.client.ReportHealth();
      const sentAt = new Map<number, number>();
      let seq = 0;
      let cursor = 0;
      call.on('data', (ack: wire.HealthAckOut) => {
        const t0 = sentAt.get(ack.seq);
        sentAt.delete(ack.seq);
        if (measuring && t0 !== undefined) {
          latencies.push(performance.now() - t0);
          acked += perBatch;
        }
      });
      call.on('error', () => undefined);
      const timer = setInterval(() => {
        if (sentAt.size >= 16) return; // the manager is behind: do not pile up
        const now = Date.now();
        const updates = Array.from({ length: perBatch }, () => {
          const taskId = ids[cursor++ % ids.length]!;
          return {
            taskId,
            transition: false,
            phase: {
              phase: 'liveness',
              status: 'healthy',
              successStreak: cursor,
              failureStreak: 0,
              everSucceeded: true,
              lastTransitionAtMs: now - 60_000,
              lastTransitionFrom: 'starting',
              results: [
                { atMs: now, durationMs: 3, outcome: 'success', hasCode: true, code: 0, output: '', counted: true },
              ],
            },
          };
        });
        sentAt.set(++seq, performance.now());
        call.write({ nodeId: sim.nodeId, seq, updates });
      }, 20);
      return { call, timer };
    });

    await new Promise((r) => setTimeout(r, 2000)); // warm up
    measuring = true;
    const rssStart = await rssMiB(pid);
    const t0 = performance.now();
    const sampler = setInterval(() => void rssMiB(pid).then((v) => rss.push(v)), 500);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const wall = performance.now() - t0;
    clearInterval(sampler);
    const rssEnd = await rssMiB(pid);
    for (const s of streams) {
      clearInterval(s.timer);
      s.call.end();
    }
    return {
      workers,
      tasks: 10_000,
      offeredPerSecond: perBatch * workers * 50,
      resultsPerSecond: (acked / wall) * 1000,
      ackP50: percentile(latencies, 0.5),
      ackP99: percentile(latencies, 0.99),
      rssStartMiB: rssStart,
      rssEndMiB: rssEnd,
      rssMaxMiB: Math.max(rssStart, rssEnd, ...rss),
    };
  } finally {
    abort.abort();
    await manager.kill('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  }
}
