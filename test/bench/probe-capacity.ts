/**
 * Probe capacity: one worker's prober (the real timer heap and the real HTTP and TCP handlers)
 * probing N loopback endpoints at a short interval. Reports probes per second sustained,
 * scheduling lag (actual start − planned start), and the prober process's CPU and RSS.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { PROBE_DEFAULTS } from '@warren/core';
import { Prober, httpProbe, tcpProbe } from '@warren/worker';
import { runningTask, testSpec } from '../helpers/spec.js';
import { percentile } from './stats.js';

export interface CapacityFigures {
  tasks: number;
  intervalMs: number;
  probesPerSecond: number;
  lagP50: number;
  lagP99: number;
  cpuCores: number;
  rssMiB: number;
  failures: number;
}

export async function probeCapacity(tasks: number, intervalMs: number, seconds: number): Promise<CapacityFigures> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./endpoints.js', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', resolve),
    );
    const ports = JSON.parse(line) as { http: number[]; tcp: number[] };
    let done = 0;
    let failures = 0;
    const prober = new Prober({
      logger: pino({ level: 'silent' }),
      onUpdate: (u) => {
        done++;
        if (u.result.outcome !== 'success') failures++;
      },
      execute: (h, target, timeoutMs) =>
        h.kind === 'http'
          ? httpProbe(h, target, timeoutMs)
          : h.kind === 'tcp'
            ? tcpProbe(h, target, timeoutMs)
            : Promise.reject(new Error('not here')),
    });
    for (let i = 0; i < tasks; i++) {
      const http = i % 2 === 0;
      const port = http ? ports.http[i % ports.http.length]! : ports.tcp[i % ports.tcp.length]!;
      const handler = http
        ? {
            kind: 'http' as const,
            path: '/health',
            port,
            scheme: 'http' as const,
            headers: [],
            statusMin: 200,
            statusMax: 399,
          }
        : { kind: 'tcp' as const, port };
      // readiness only: one phase per run, and nothing stops probing on a failure
      const health = { readiness: { ...PROBE_DEFAULTS, handler, intervalMs, timeoutMs: 1000 } };
      const task = runningTask(`bench${i}`, testSpec({ name: 'bench', image: 'i', stopTimeoutMs: 0, health }), {
        slot: i,
      });
      // adopted: first runs spread over one interval, as after a worker restart
      prober.add(task, { containerId: '', address: '127.0.0.1' }, 0, { adopted: true });
    }
    await new Promise((r) => setTimeout(r, intervalMs * 2)); // warm up
    prober.lags.length = 0;
    const startDone = done;
    const startFailures = failures;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let rss = 0;
    const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 250);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(sampler);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const lags = [...prober.lags];
    prober.stop();
    return {
      tasks,
      intervalMs,
      probesPerSecond: ((done - startDone) / wall) * 1000,
      lagP50: percentile(lags, 0.5),
      lagP99: percentile(lags, 0.99),
      cpuCores: (cpu.user + cpu.system) / 1000 / wall,
      rssMiB: rss / 1024 / 1024,
      failures: failures - startFailures,
    };
  } finally {
    child.stdin!.end();
    child.kill();
  }
}
