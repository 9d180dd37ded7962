import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';

const HTTPD = ['httpd', '-f', '-p', '8080', '-h', '/www'];

test('an httpd service with an HTTP check turns healthy 3/3 and is never restarted', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '3',
    '--stop-timeout',
    '1s',
    '--health-http',
    'path=/health,port=8080',
    '--health-interval',
    '300ms',
    '--health-timeout',
    '1s',
    '--health-retries',
    '2',
    '--',
    ...HTTPD,
  );
  const healthy = await waitFor('3 healthy', async () => {
    const tasks = await c.live('web');
    return tasks.length === 3 && tasks.every((x) => x.health === 'healthy' && x.ready) ? tasks : undefined;
  });
  const text = await c.ok('service', 'inspect', 'web');
  assert.match(text, /Health:\s+3\/3 healthy \(3 ready\)/);
  assert.match(
    text,
    /Check \(liveness\+readiness\):\s+HTTP GET http:\/\/<task>:8080\/health expecting 200-399; every 300ms/,
  );
  assert.match(text, /healthy\s+yes\s+success HTTP 200/);

  await waitFor('10 more results per task', async () => (await c.live('web')).every((x) => x.results.length >= 10));
  const later = await c.live('web');
  assert.deepEqual(later.map((x) => x.id).sort(), healthy.map((x) => x.id).sort(), 'no task was replaced');
  assert.equal((await c.tasks('web')).length, 3, 'no ended tasks');
  for (const task of later) {
    assert.equal(task.results.length, 10, 'the manager keeps the last 10 results');
    assert.ok(task.results.every((r) => r.outcome === 'success' && r.code === 200 && r.output === 'ok\n'));
    assert.deepEqual(task.results[0]!.phases, ['liveness', 'readiness'], 'one check feeds both phases');
    assert.equal(task.phases.liveness!.status, 'healthy');
  }
});

test('an app whose health endpoint returns 500 is failed after the retries and replaced in its slot', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const cgi =
    'mkdir -p /www/cgi-bin && printf \'#!/bin/sh\\nprintf "HTTP/1.0 500 Internal Server Error\\\\r\\\\n\\\\r\\\\nbroken\\\\n"\\n\' > /www/cgi-bin/health && chmod +x /www/cgi-bin/health && exec httpd -f -p 8080 -h /www';
  await c.ok(
    'service',
    'create',
    'app',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    // The start period covers httpd binding its port: the verdict then rests on 500s alone.
    '--health-http',
    'path=/cgi-bin/health,port=8080',
    '--health-interval',
    '300ms',
    '--health-retries',
    '3',
    '--health-start-period',
    '1s',
    '--',
    'sh',
    '-c',
    cgi,
  );
  const story = await waitFor('the first task failed and a new one took slot 1', async () => {
    const tasks = await c.tasks('app');
    const failed = tasks.find((x) => x.state === 'failed');
    const next = tasks.find((x) => x.desiredState === 'running' && x.id !== failed?.id && x.state !== 'pending');
    return failed && next ? { failed, next } : undefined;
  });
  assert.equal(story.failed.error, 'liveness probe failed: HTTP 500');
  assert.equal(story.failed.slot, 1);
  assert.equal(story.next.slot, 1);
  const counted = story.failed.results.filter((r) => r.counted);
  assert.ok(counted.length >= 3, `three counted failures before the verdict (${counted.length})`);
  assert.ok(
    counted.slice(-3).every((r) => r.outcome === 'failure' && r.code === 500 && r.output === 'broken\n'),
    JSON.stringify(story.failed.results),
  );
  assert.match(await c.ok('service', 'ps', 'app'), /\\_ app\.1 .*failed .*liveness probe failed: HTTP 500/);
  await waitFor(
    'the failed container stopped',
    async () => !(await c.containers({ service: 'app' })).some((x) => x.Labels['warren.task.id'] === story.failed.id),
  );
});

test('a TCP check on a listening port is healthy, and turns unhealthy when the listener dies', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'cache',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-tcp',
    'port=6379',
    '--health-interval',
    '300ms',
    '--health-retries',
    '2',
    '--',
    'sh',
    '-c',
    'nc -ll -p 6379 -e true & exec sleep 1000',
  );
  const [task] = await waitFor('healthy', async () => {
    const tasks = await c.live('cache');
    return tasks.length === 1 && tasks[0]!.health === 'healthy' ? tasks : undefined;
  });
  assert.equal(task!.results.at(-1)!.output, 'connected');
  await c.exec(task!.containerId, ['killall', 'nc']);
  const failed = await waitFor('task failed', async () =>
    (await c.tasks('cache')).find((x) => x.id === task!.id && x.state === 'failed'),
  );
  assert.equal(failed.error, 'liveness probe failed: connection refused');
  assert.equal(failed.phases.liveness!.status, 'unhealthy');
});

test('an exec check is not failed during its start period, and is after it', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // Never ready: failures in the first 3 s are recorded but not counted; the next one fails it.
  await c.ok(
    'service',
    'create',
    'db',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'test -f /tmp/ready',
    '--health-start-period',
    '3s',
    '--health-interval',
    '300ms',
    '--health-retries',
    '1',
    '--',
    'sleep',
    '1000',
  );
  // Ready after 2 s, well inside its start period (even when a loaded engine is slow to run
  // the checks): healthy, never failed.
  await c.ok(
    'service',
    'create',
    'slow',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'test -f /tmp/ready',
    '--health-start-period',
    '6s',
    '--health-interval',
    '300ms',
    '--health-retries',
    '1',
    '--',
    'sh',
    '-c',
    'sleep 2; touch /tmp/ready; exec sleep 1000',
  );

  const failed = await waitFor(
    'db failed',
    async () => (await c.tasks('db')).find((x) => x.state === 'failed'),
    30_000,
  );
  assert.equal(failed.error, 'liveness probe failed: exit code 1');
  // The start period runs from the container's start as the engine recorded it, which is what
  // the worker reads: a run that began inside it is not counted, the first one after it is.
  const startedAt = Date.parse((await docker.getContainer(failed.containerId).inspect()).State.StartedAt);
  const uncounted = failed.results.filter((r) => r.outcome === 'failure' && !r.counted);
  assert.ok(uncounted.length >= 1, 'failures in the start period were recorded, not counted');
  assert.ok(
    uncounted.every((r) => Date.parse(r.time) - startedAt < 3000),
    JSON.stringify(failed.results),
  );
  const verdict = failed.results.find((r) => r.counted)!;
  assert.ok(Date.parse(verdict.time) - startedAt >= 3000, 'the counted failure came after the start period');
  assert.ok(uncounted.every((r) => Date.parse(r.time) < Date.parse(verdict.time)));

  const [slow] = await waitFor('slow healthy', async () => {
    const tasks = await c.live('slow');
    return tasks[0]?.health === 'healthy' ? tasks : undefined;
  });
  assert.ok(
    slow!.results.some((r) => r.outcome === 'failure' && !r.counted),
    'it failed before it was ready, uncounted',
  );
  assert.equal((await c.tasks('slow')).length, 1, 'never replaced');
});

test('with a startup probe, liveness and readiness wait until startup passes; startup then never runs again', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // The container passes startup when the test says so (a file in a mount), not after a sleep a busy machine could outrun.
  const gate = await mkdtemp(join(tmpdir(), 'warren-startup-gate-'));
  t.after(() => rm(gate, { recursive: true, force: true }));
  await c.ok(
    'service',
    'create',
    'api',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--mount',
    `source=${gate},target=/gate`,
    '--startup-cmd',
    'test -f /tmp/started',
    '--startup-interval',
    '200ms',
    '--startup-retries',
    '50',
    '--liveness-cmd',
    'touch /tmp/liveness-ran',
    '--liveness-interval',
    '200ms',
    '--readiness-tcp',
    'port=8080',
    '--readiness-interval',
    '200ms',
    '--',
    'sh',
    '-c',
    'until test -f /gate/go; do sleep 0.1; done; touch /tmp/started; exec httpd -f -p 8080 -h /www',
  );
  const early = await waitFor('startup results', async () => {
    const [task] = await c.live('api');
    return task && task.results.length >= 3 ? task : undefined;
  });
  assert.equal(early.health, 'starting');
  assert.equal(early.ready, false);
  assert.deepEqual(
    early.results.map((r) => r.phases.join()).filter((p) => p !== 'startup'),
    [],
    'only startup runs before it passes',
  );
  assert.equal(
    (await c.exec(early.containerId, ['sh', '-c', 'test -f /tmp/liveness-ran && echo ran || echo not'])).trim(),
    'not',
  );
  await writeFile(join(gate, 'go'), '');

  const passed = await waitFor('healthy and ready', async () => {
    const [task] = await c.live('api');
    return task?.health === 'healthy' &&
      task.ready &&
      task.results.filter((r) => r.phases.includes('liveness')).length >= 3
      ? task
      : undefined;
  });
  const startupPassedAt = Date.parse(passed.phases.startup!.lastTransitionAt!);
  const startupRuns = passed.results.filter((r) => r.phases.includes('startup'));
  assert.ok(
    startupRuns.every((r) => Date.parse(r.time) <= startupPassedAt),
    'startup never ran after it passed',
  );
  assert.ok(
    passed.results.filter((r) => !r.phases.includes('startup')).every((r) => Date.parse(r.time) >= startupPassedAt),
    'liveness and readiness only after',
  );
});

test('readiness failing takes a task out of ready without replacing it; it comes back when it passes', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--readiness-cmd',
    'test -f /tmp/ready',
    '--readiness-interval',
    '200ms',
    '--readiness-retries',
    '1',
    '--',
    'sh',
    '-c',
    'touch /tmp/ready; exec sleep 1000',
  );
  const [task] = await waitFor('ready', async () => {
    const tasks = await c.live('web');
    return tasks[0]?.ready ? tasks : undefined;
  });
  await c.exec(task!.containerId, ['rm', '/tmp/ready']);
  const out = await waitFor('not ready', async () => {
    const [x] = await c.live('web');
    return x && !x.ready ? x : undefined;
  });
  assert.equal(out.id, task!.id);
  assert.equal(out.state, 'running');
  assert.match(await c.ok('service', 'inspect', 'web'), /Check \(readiness\):.*out of endpoints when unhealthy/);
  await c.exec(task!.containerId, ['touch', '/tmp/ready']);
  const back = await waitFor('ready again', async () => {
    const [x] = await c.live('web');
    return x?.ready ? x : undefined;
  });
  assert.equal(back.id, task!.id, 'the same task, never replaced');
  assert.equal((await c.tasks('web')).length, 1);
});

test('an exec check that outlives its timeout is killed with its children: no hung processes pile up', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // The timeout also covers the engine's exec create and start: 1 s leaves a loaded engine room
  // to start the check, which then hangs far longer. Retries high enough that the task is never
  // failed while every timeout counts.
  await c.ok(
    'service',
    'create',
    'hung',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'sleep 1000 & sleep 1000',
    '--health-timeout',
    '1s',
    '--health-interval',
    '100ms',
    '--health-retries',
    '1000',
    '--',
    'sleep',
    '999',
  );
  // A run may be in flight when we look (it holds two `sleep 1000`); without the kill, every
  // past run would have left its two behind, growing with every run.
  let first: string | undefined;
  for (const runs of [4, 7]) {
    const [task] = await waitFor(`${runs} timed-out runs`, async () => {
      const tasks = await c.live('hung');
      return tasks[0] && tasks[0].results.length >= runs ? tasks : undefined;
    });
    first ??= task!.id;
    assert.equal(task!.id, first, 'never replaced');
    assert.ok(
      task!.results.every((r) => r.outcome === 'failure' && r.output === 'timed out after 1000ms' && r.counted),
      JSON.stringify(task!.results),
    );
    const ps = await c.exec(task!.containerId, ['ps', '-o', 'args']);
    const hung = ps.split('\n').filter((l) => l.trim() === 'sleep 1000').length;
    assert.ok(hung <= 2, `at most the run in flight, found ${hung}:\n${ps}`);
    assert.equal(ps.split('\n').filter((l) => l.trim() === 'sleep 999').length, 1, 'the task itself runs on');
  }
});

test('a gRPC check against a grpc.health.v1 server: healthy while SERVING, failed when NOT_SERVING', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // The fixture's health server listens on loopback; the task runs with --network host, so its
  // address is 127.0.0.1 and the probe reaches it there.
  const health = new HealthImplementation({ '': 'SERVING', 'warren.test': 'SERVING' });
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  t.after(() => server.forceShutdown());

  await c.ok(
    'service',
    'create',
    'rpc',
    '--image',
    TEST_IMAGE,
    '--network',
    'host',
    '--stop-timeout',
    '1s',
    '--health-grpc',
    `port=${port},service=warren.test`,
    '--health-interval',
    '200ms',
    '--health-retries',
    '2',
    '--',
    'sleep',
    '1000',
  );
  const [task] = await waitFor('healthy', async () => {
    const tasks = await c.live('rpc');
    return tasks[0]?.health === 'healthy' ? tasks : undefined;
  });
  assert.equal(task!.results.at(-1)!.output, 'SERVING');
  health.setStatus('warren.test', 'NOT_SERVING');
  const failed = await waitFor('failed', async () =>
    (await c.tasks('rpc')).find((x) => x.id === task!.id && x.state === 'failed'),
  );
  assert.equal(failed.error, 'liveness probe failed: NOT_SERVING');
});
