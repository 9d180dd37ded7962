import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcHealth } from '../helpers/grpc-health.js';
import { Cluster, TEST_IMAGE, runWarren, spawnWarren, waitFor } from '../helpers/cluster.js';

async function get(
  address: string,
  path: string,
): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  const res = await fetch(`http://${address}${path}`);
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

/** The value of one Prometheus sample, by name and labels (all given labels must match). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

type ComponentJson = { name: string; status: string; critical: boolean; latency_ms: number; message: string };

test('the manager and the worker serve /health, /health/ready, /liveness and /metrics', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());

  const lonely = await get(c.managerHttp, '/health');
  assert.equal(lonely.status, 200);
  assert.deepEqual(lonely.json(), { status: 'degraded', version: '0.1.0' }, 'no worker yet: degraded, still 200');

  const worker = await c.startWorker('w1');
  const endpoints = await worker.waitForLog((l) => l.msg === 'health endpoints');
  const workerHttp = endpoints.http as string;
  const workerGrpc = new GrpcHealth(endpoints.grpc as string);
  t.after(() => workerGrpc.close());
  assert.equal(await workerGrpc.check(), 'SERVING', "the worker's grpc.health.v1");
  await waitFor('manager healthy', async () => (await get(c.managerHttp, '/health')).json().status === 'healthy');

  const ready = await get(c.managerHttp, '/health/ready');
  assert.equal(ready.status, 200);
  const body = ready.json() as {
    status: string;
    timestamp: string;
    total_latency_ms: number;
    components: ComponentJson[];
  };
  assert.equal(body.status, 'healthy');
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
  assert.equal(typeof body.total_latency_ms, 'number');
  assert.deepEqual(
    body.components.map((x) => [x.name, x.critical, x.status]),
    [
      ['store', true, 'healthy'],
      ['leadership', true, 'healthy'],
      ['reconciler', true, 'healthy'],
      ['workers', false, 'healthy'],
    ],
  );
  assert.ok(body.components.every((x) => typeof x.latency_ms === 'number' && x.message !== ''));
  assert.equal(body.components.find((x) => x.name === 'leadership')?.message, 'this manager leads');
  assert.deepEqual((await get(c.managerHttp, '/liveness')).json(), { status: 'alive' });
  assert.equal((await get(c.managerHttp, '/nope')).status, 404);

  const wready = (await get(workerHttp, '/health/ready')).json() as { status: string; components: ComponentJson[] };
  assert.deepEqual(
    wready.components.map((x) => [x.name, x.critical, x.status]),
    [
      ['docker', true, 'healthy'],
      ['manager', false, 'healthy'],
      ['names', false, 'healthy'],
    ],
  );
  const names = wready.components.find((x) => x.name === 'names')!;
  assert.match(names.message, /^containers resolve service names at 198\.19\.\d+\.1$/);

  // Metrics, scraped and parsed, after some probing.
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'true',
    '--health-interval',
    '200ms',
    '--',
    'sleep',
    '1000',
  );
  await waitFor('healthy', async () => (await c.live('web'))[0]?.health === 'healthy');
  const m = (await get(c.managerHttp, '/metrics')).body;
  assert.equal(sample(m, 'warren_tasks', { service: 'web', health: 'healthy' }), 1);
  assert.equal(sample(m, 'warren_nodes', { status: 'ready' }), 1);
  assert.equal(sample(m, 'warren_grpc_streams', { stream: 'assignments' }), 1);
  assert.ok((sample(m, 'warren_health_results_total') ?? 0) > 0);
  assert.ok((sample(m, 'warren_events_total', { type: 'task-created' }) ?? 0) >= 1);
  assert.ok(sample(m, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag');
  assert.ok(sample(m, 'process_resident_memory_bytes') !== undefined, 'default process metrics');
  assert.ok(!/task="/.test(m), 'no task ids in labels');
  const w = (await get(workerHttp, '/metrics')).body;
  assert.ok(
    (sample(w, 'warren_probe_results_total', { probe: 'check', handler: 'exec', outcome: 'success' }) ?? 0) >= 1,
  );
  assert.ok((sample(w, 'warren_probe_duration_seconds_count', { probe: 'check', handler: 'exec' }) ?? 0) >= 1);
  assert.equal(sample(w, 'warren_probed_tasks'), 1);

  // Cut off from the manager: the worker is degraded (200), not unhealthy.
  await c.manager.kill('SIGKILL');
  await waitFor('worker degraded', async () => (await get(workerHttp, '/health')).json().status === 'degraded');
  const cut = (await get(workerHttp, '/health/ready')).json() as { components: ComponentJson[] };
  assert.match(
    cut.components.find((x) => x.name === 'manager')!.message,
    /cut off from .* containers and probes keep running/,
  );
  assert.equal((await get(workerHttp, '/health')).status, 200);
});

test('a store that cannot write turns the manager unhealthy: /health answers 503 and grpc.health.v1 NOT_SERVING', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'warren-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  let manager: ReturnType<typeof spawnWarren> | undefined;
  t.after(async () => {
    await manager?.kill();
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  });
  manager = spawnWarren([
    'manager',
    '--data-dir',
    join(dir, 'data'),
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
  ]);
  const started = await manager.waitForLog((l) => l.msg === 'manager started');
  const http = started.http as string;
  const client = new GrpcHealth(started.socket as string);
  t.after(() => client.close());
  assert.equal(await client.check(), 'SERVING');
  assert.equal((await get(http, '/health')).status, 200);

  // Fill the filesystem under LevelDB, then write until a write needs space it cannot get
  // (the log file's last page had room for a few small records).
  await writeFile(join(dir, 'filler'), Buffer.alloc(4 * 1024 * 1024)).catch(() => undefined);
  const address = started.socket as string;
  let refused;
  for (let i = 0; i < 50 && !refused; i++) {
    const res = await runWarren([
      '--manager',
      address,
      'service',
      'create',
      '--detach',
      `s${i}`,
      '--image',
      TEST_IMAGE,
      '--env',
      `PADDING=${'x'.repeat(2000)}`,
    ]);
    if (res.code !== 0) refused = res;
  }
  assert.ok(refused, 'a write failed');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /manager at .* failed: internal error: .*(space|IO error)/i);
  await waitFor('manager unhealthy', async () => (await get(http, '/health')).status === 503, 15_000);
  assert.equal((await get(http, '/health')).json().status, 'unhealthy');
  const ready = await get(http, '/health/ready');
  assert.equal(ready.status, 503);
  const store = (ready.json().components as ComponentJson[]).find((x) => x.name === 'store')!;
  assert.equal(store.status, 'unhealthy');
  assert.match(store.message, /space|IO error/i);
  assert.equal(await client.check(), 'NOT_SERVING');
  assert.equal((await get(http, '/liveness')).status, 200, 'the process still answers');
});

test('grpc.health.v1 Watch sees NOT_SERVING when the manager or a worker shuts down', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const worker = await c.startWorker('w1');
  const managerHealth = new GrpcHealth(c.control);
  const workerHealth = new GrpcHealth((await worker.waitForLog((l) => l.msg === 'health endpoints')).grpc as string);
  t.after(() => {
    managerHealth.close();
    workerHealth.close();
  });
  const manager = managerHealth.watch('warren.v1.ControlService');
  const local = workerHealth.watch();
  await waitFor('serving', () => manager[0] === 'SERVING' && local[0] === 'SERVING');
  assert.equal(await worker.kill('SIGTERM'), 0, worker.tail());
  assert.deepEqual(local, ['SERVING', 'NOT_SERVING']);
  assert.equal(await c.manager.kill('SIGTERM'), 0, c.manager.tail());
  assert.deepEqual(manager, ['SERVING', 'NOT_SERVING']);
});
