/**
 * The status page (issue 14): page weight, time to first render with 100 services × 10 tasks,
 * and the manager's CPU with 20 pages open while the cluster produces 1,000 results/s. The
 * cluster is a real `warren manager` process with simulated workers (in-process gRPC clients
 * over mutual TLS, no containers: 1,000 containers would measure the engine), the pages a real
 * headless chromium on the same machine.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createControlClient, unary, type wire } from '@warren/api';
import { launchBrowser } from '../helpers/browser.js';
import { spawnWarren, waitFor } from '../helpers/cluster.js';
import { joinSimulated } from '../helpers/sim-worker.js';
import { percentile } from './stats.js';

const IMAGE = 'bench-image:latest';
const SERVICES = 100;
const REPLICAS = 10;
const WORKERS = 10;
const STREAMS = 'warren_status_streams_open';

export interface StatusPageFigures {
  /** The overview page's files, gzipped as sent (the event stream not counted), and unzipped. */
  transferredKB: number;
  decodedKB: number;
  requests: number;
  /** Navigation start → the overview lists all 100 services; the service page shows all 10 tasks. */
  overviewIdleMs: number[];
  serviceIdleMs: number[];
  /** The same while the cluster produces 1,000 results/s. */
  overviewRenderMs: number[];
  serviceRenderMs: number[];
  /** The manager's CPU (% of one core) at 1,000 results/s with no page, and with 20 open. */
  cpuIdlePages: number;
  /** 20 tabs of one browser: one stream. */
  cpuOneBrowser: number;
  /** 20 browsers: 20 streams. */
  cpuWithPages: number;
  resultsPerSecond: number;
  rssMiB: number;
}

/** CPU seconds the process used so far (user + system). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const c0 = await cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (((await cpuSeconds(pid)) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

export async function statusPageBench(rounds: number): Promise<StatusPageFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const manager = spawnWarren(['manager', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  const abort = new AbortController();
  setMaxListeners(100, abort.signal);
  let browser: Browser | undefined;
  try {
    const joined = await manager.waitForLog((l) => typeof l.joinToken === 'string');
    const started = await manager.waitForLog((l) => l.msg === 'manager started');
    const base = `http://${started.http as string}`;
    const caPem = await readFile(join(dataDir, 'certs', 'ca.crt'), 'utf8');
    const sims = await Promise.all(
      Array.from({ length: WORKERS }, async (_, i) => {
        const sim = await joinSimulated(joined.address as string, joined.joinToken as string, caPem, {
          name: `sim-${i}`,
          images: [IMAGE],
        });
        const tasks = new Set<string>();
        const stream = sim.client.Assignments({ nodeId: sim.nodeId });
        stream.on('data', (m: wire.AssignmentsMessageOut) => {
          for (const t of m.tasks) if (t.desiredState === 'running') tasks.add(t.id);
        });
        stream.on('error', () => undefined);
        const beat = setInterval(() => sim.client.Heartbeat({ nodeId: sim.nodeId }, () => undefined), 500);
        abort.signal.addEventListener('abort', () => {
          clearInterval(beat);
          stream.cancel();
        });
        return { ...sim, tasks };
      }),
    );
    const control = createControlClient(joined.socket as string);
    const check = { exec: { command: ['true'] }, intervalMs: 1000 };
    for (let s = 0; s < SERVICES; s++) {
      await unary(control.CreateService, control, {
        spec: { name: `svc${String(s).padStart(3, '0')}`, image: IMAGE, replicas: REPLICAS, health: { check } },
      });
    }
    control.close();
    const total = SERVICES * REPLICAS;
    await waitFor('every task assigned', () => sims.reduce((n, s) => n + s.tasks.size, 0) === total, 120_000, 100);
    for (const sim of sims) {
      for (const taskId of sim.tasks) {
        await unary(sim.client.UpdateTaskStatus, sim.client, {
          nodeId: sim.nodeId,
          taskId,
          state: 'running',
          containerId: taskId.padEnd(64, '0'),
          observedAtMs: Date.now(),
          address: '10.0.0.1',
        });
      }
    }

    // 1,000 results/s: every task's check runs once a second and feeds liveness and readiness.
    let sent = 0;
    const startResults = (): void => {
      const senders = sims.map((sim) => {
        const ids = [...sim.tasks];
        const call = sim.client.ReportHealth();
        call.on('data', () => undefined);
        call.on('error', () => undefined);
        let seq = 0;
        let cursor = 0;
        // As many as are due since the start: timers run late on busy cores, the rate does not.
        const startedAt = performance.now();
        const perSecond = total / WORKERS;
        let mine = 0;
        const timer = setInterval(() => {
          const now = Date.now();
          const perBatch = Math.round(((performance.now() - startedAt) / 1000) * perSecond) - mine;
          if (perBatch <= 0) return;
          mine += perBatch;
          const updates = Array.from({ length: perBatch }, () => {
            const taskId = ids[cursor++ % ids.length]!;
            const result = {
              atMs: now,
              durationMs: 3 + (cursor % 7),
              outcome: 'success',
              hasCode: true,
              code: 0,
              output: '',
              counted: true,
            };
            return ['liveness', 'readiness'].map((phase) => ({
              taskId,
              transition: false,
              phase: {
                phase,
                status: 'healthy',
                successStreak: 1,
                failureStreak: 0,
                everSucceeded: true,
                lastTransitionAtMs: now,
                lastTransitionFrom: 'starting',
                results: [result],
              },
            }));
          }).flat();
          sent += perBatch;
          call.write({ nodeId: sim.nodeId, seq: ++seq, updates });
        }, 20);
        return { call, timer };
      });
      abort.signal.addEventListener('abort', () => {
        for (const s of senders) {
          clearInterval(s.timer);
          s.call.end();
        }
      });
    };

    browser = await launchBrowser();
    // Page weight: a fresh context (no cache), every response but the event stream.
    const weigh = await browser.newContext();
    const first = await weigh.newPage();
    const responses: Promise<{ transferred: number; decoded: number }>[] = [];
    first.on('response', (res) => {
      if (res.url().includes('/api/v1/stream')) return;
      responses.push(
        (async () => {
          const sizes = await res.request().sizes();
          const body = await res.body().catch(() => Buffer.alloc(0));
          return { transferred: sizes.responseBodySize + sizes.responseHeadersSize, decoded: body.length };
        })(),
      );
    });
    await first.goto(`${base}/`);
    await first.waitForFunction((n) => document.querySelectorAll('tr[data-service]').length === n, SERVICES, {
      timeout: 60_000,
    });
    const weights = await Promise.all(responses);
    await weigh.close();

    const renderTimes = async (path: string, ready: (page: Page) => Promise<unknown>): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const context = await browser!.newContext();
        const page = await context.newPage();
        await page.goto(`${base}${path}`);
        await ready(page);
        times.push(await page.evaluate(() => performance.now()));
        await context.close();
      }
      return times;
    };
    const overview = (page: Page) =>
      page.waitForFunction((n) => document.querySelectorAll('tr[data-service]').length === n, SERVICES, {
        polling: 'raf',
        timeout: 60_000,
      });
    const service = (page: Page) =>
      page.waitForFunction((n) => document.querySelectorAll('[data-testid="tasks"] article').length === n, REPLICAS, {
        polling: 'raf',
        timeout: 60_000,
      });
    const overviewIdleMs = await renderTimes('/', overview);
    const serviceIdleMs = await renderTimes('/services/svc042', service);
    startResults();
    await new Promise((r) => setTimeout(r, 3000));
    const overviewRenderMs = await renderTimes('/', overview);
    const serviceRenderMs = await renderTimes('/services/svc042', service);

    const pid = manager.process.pid!;
    const s0 = sent;
    const t0 = performance.now();
    const cpuIdlePages = await cpuPercent(pid, 15);
    // 20 pages (10 overviews, 10 service pages): as tabs of one browser (one shared stream), then as
    // 20 browsers (20 streams).
    const open = async (contexts: BrowserContext[]): Promise<number> => {
      for (let i = 0; i < 20; i++) {
        const page = await contexts[i % contexts.length]!.newPage();
        await page.goto(i < 10 ? `${base}/` : `${base}/services/svc${String(i * 7).padStart(3, '0')}`);
      }
      const streams = contexts.length;
      await waitFor(`${streams} streams`, async () => (await metricsValue(base, STREAMS)) === streams, 60_000, 200);
      await new Promise((r) => setTimeout(r, 3000)); // past the first views
      const cpu = await cpuPercent(pid, 15);
      for (const context of contexts) await context.close();
      await waitFor('no stream', async () => (await metricsValue(base, STREAMS)) === 0, 60_000, 200);
      return cpu;
    };
    const cpuOneBrowser = await open([await browser.newContext()]);
    const cpuWithPages = await open(await Promise.all(Array.from({ length: 20 }, () => browser!.newContext())));
    const resultsPerSecond = ((sent - s0) / (performance.now() - t0)) * 1000;
    const rss = Number((await readFile(`/proc/${pid}/status`, 'utf8')).match(/VmRSS:\s+(\d+)/)![1]) / 1024;
    return {
      transferredKB: weights.reduce((n, w) => n + w.transferred, 0) / 1024,
      decodedKB: weights.reduce((n, w) => n + w.decoded, 0) / 1024,
      requests: weights.length,
      overviewIdleMs,
      serviceIdleMs,
      overviewRenderMs,
      serviceRenderMs,
      cpuIdlePages,
      cpuOneBrowser,
      cpuWithPages,
      resultsPerSecond,
      rssMiB: rss,
    };
  } finally {
    abort.abort();
    await browser?.close();
    await manager.kill('SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function metricsValue(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

export function statusPageReport(f: StatusPageFigures): string[] {
  const ms = (xs: number[]) => `median ${percentile(xs, 0.5).toFixed(0)} ms (max ${Math.max(...xs).toFixed(0)})`;
  return [
    `status page, ${SERVICES} services × ${REPLICAS} tasks on ${WORKERS} simulated workers, chromium headless on the same cores:`,
    `  page weight of the overview: ${f.transferredKB.toFixed(1)} KB transferred (gzip, headers included) in ${f.requests} requests, ${f.decodedKB.toFixed(1)} KB unzipped`,
    `  time to first render (navigation → all rows drawn), no results flowing: overview ${ms(f.overviewIdleMs)}, a service's page ${ms(f.serviceIdleMs)}`,
    `  … at 1,000 results/s: overview ${ms(f.overviewRenderMs)}, a service's page ${ms(f.serviceRenderMs)}`,
    `  manager CPU at ${f.resultsPerSecond.toFixed(0)} results/s: ${f.cpuIdlePages.toFixed(1)}% of a core with no page open; 20 pages open (10 overviews, 10 service pages): ${f.cpuOneBrowser.toFixed(1)}% as tabs of one browser (one stream), ${f.cpuWithPages.toFixed(1)}% as 20 browsers (20 streams); RSS ${f.rssMiB.toFixed(0)} MiB`,
  ];
}
