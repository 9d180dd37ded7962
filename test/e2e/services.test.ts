import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';

const HTTPD = ['--', 'httpd', '-f', '-p', '8080', '-h', '/www'];

test('create, scale and rm: containers appear and disappear in Docker, shared by two workers', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.startWorker('w2');

  const nodes = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{ name: string; status: string }>;
  assert.deepEqual(nodes.map((n) => [n.name, n.status]).sort(), [
    [c.nodeName('w1'), 'ready'],
    [c.nodeName('w2'), 'ready'],
  ]);

  const id = (
    await c.ok(
      'service',
      'create',
      'web',
      '--image',
      TEST_IMAGE,
      '--replicas',
      '3',
      '--env',
      'GREETING=hi',
      '--stop-timeout',
      '1s',
      ...HTTPD,
    )
  ).trim();
  assert.match(id, /^[0-9a-f]{12}$/);
  const tasks = await c.waitRunning('web', 3);
  assert.deepEqual(tasks.map((t) => t.slot).sort(), [1, 2, 3]);
  assert.deepEqual(
    new Set(tasks.map((t) => t.node)),
    new Set([c.nodeName('w1'), c.nodeName('w2')]),
    'both workers run tasks',
  );

  const containers = await c.containers({ service: 'web' });
  assert.equal(containers.length, 3);
  for (const task of tasks) {
    const container = containers.find((x) => x.Id === task.containerId);
    assert.ok(container, `container of ${task.name}`);
    assert.equal(container.Names[0], `/web.${task.slot}.${task.id}`);
    assert.equal(container.Labels['warren.task.slot'], String(task.slot));
    const info = await docker.getContainer(container.Id).inspect();
    assert.ok(info.Config.Env.includes('GREETING=hi'));
    assert.deepEqual(info.Config.Cmd, ['httpd', '-f', '-p', '8080', '-h', '/www']);
    assert.equal((info.Config as { StopTimeout?: number }).StopTimeout, 1);
  }

  const ls = await c.ok('service', 'ls');
  assert.match(ls, /^ID\s+NAME\s+REPLICAS\s+IMAGE\s+COMMAND\n/);
  assert.match(ls, /\bweb\s+3\/3\s+warren-test:latest\s+httpd -f -p 8080 -h \/www\n/);

  await c.ok('service', 'scale', 'web=5');
  await c.waitRunning('web', 5);
  assert.equal((await c.containers({ service: 'web' })).length, 5);

  await c.ok('service', 'scale', 'web=2');
  await c.waitRunning('web', 2);
  await waitFor(
    'scaled-down containers removed',
    async () => (await c.containers({ service: 'web', all: true })).length === 2,
  );
  assert.deepEqual((await c.running('web')).map((t) => t.slot).sort(), [1, 2]);

  const inspect = JSON.parse(await c.ok('service', 'inspect', 'web', '--format', 'json')) as {
    id: string;
    name: string;
    spec: { replicas: number };
    tasks: Array<{ health: string; ready: boolean }>;
  };
  assert.equal(inspect.id, id);
  assert.equal(inspect.name, 'web');
  assert.equal(inspect.spec.replicas, 2);
  assert.ok(inspect.tasks.every((t) => t.health === 'none' && t.ready));
  assert.match(await c.ok('service', 'inspect', 'web'), /Replicas:\s+2 desired, 2 running/);

  assert.equal((await c.ok('service', 'rm', 'web')).trim(), 'web');
  await waitFor(
    'all containers of web removed',
    async () => (await c.containers({ service: 'web', all: true })).length === 0,
  );
  assert.equal((await c.ok('service', 'ls', '--format', 'json')).trim(), '[]');
});

test("a container killed or removed behind Warren's back fails its task with the reason, and a new task takes its slot", async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '2', '--stop-timeout', '1s', ...HTTPD);
  const [first, second] = await c.waitRunning('web', 2);

  await docker.getContainer(first!.containerId).kill();
  const replaced = await waitFor('slot 1 replaced', async () => {
    const tasks = await c.tasks('web');
    const old = tasks.find((t) => t.id === first!.id);
    const fresh = tasks.find(
      (t) => t.slot === first!.slot && t.desiredState === 'running' && t.state === 'running' && t.id !== first!.id,
    );
    return old?.state === 'failed' && fresh ? { old, fresh } : undefined;
  });
  assert.equal(replaced.old.exitCode, 137);
  assert.equal(replaced.old.error, 'container exited with code 137');
  assert.equal(replaced.old.desiredState, 'shutdown');

  await docker.getContainer(second!.containerId).remove({ force: true });
  await waitFor('slot 2 replaced', async () => {
    const tasks = await c.tasks('web');
    const old = tasks.find((t) => t.id === second!.id);
    // Docker reports a forced removal as a kill (exit 137) and then the removal; either may win.
    return (
      old?.state === 'failed' &&
      /removed outside Warren|exited with code 137/.test(old.error) &&
      tasks.some((t) => t.slot === second!.slot && t.state === 'running' && t.desiredState === 'running')
    );
  });

  const live = await c.waitRunning('web', 2);
  assert.deepEqual(live.map((t) => t.slot).sort(), [1, 2], 'the replica count holds');
  const ps = await c.ok('service', 'ps', 'web');
  assert.match(ps, /\\_ web\.1 .*failed .*container exited with code 137/);
  assert.match(ps, /\\_ web\.2 .*failed .*container (removed outside Warren|exited with code 137)/);
});

test("a container that exits on its own fails with its exit code and last words; one that cannot be created is rejected with Docker's reason", async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'crash',
    '--image',
    TEST_IMAGE,
    '--',
    'sh',
    '-c',
    'sleep 0.3; echo database unreachable >&2; exit 3',
  );
  const failed = await waitFor('a failed attempt with exit code 3', async () =>
    (await c.tasks('crash')).find((t) => t.state === 'failed' && t.exitCode === 3 && t.slot === 1),
  );
  assert.equal(failed.error, 'container exited with code 3: database unreachable');
  await c.ok('service', 'rm', 'crash');

  await c.ok(
    'service',
    'create',
    'nonet',
    '--image',
    TEST_IMAGE,
    '--network',
    'no-such-network',
    '--',
    'sleep',
    '100',
  );
  const rejected = await waitFor('a rejected task', async () =>
    (await c.tasks('nonet')).find((t) => t.state === 'rejected'),
  );
  assert.match(rejected.error, /no-such-network/);
  await c.ok('service', 'rm', 'nonet');
  await waitFor('containers removed', async () => (await c.containers({ all: true })).length === 0);
});

test('stopping honours the stop timeout: SIGTERM first, SIGKILL only after the timeout', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const loop = 'while true; do sleep 0.1; done';
  await c.ok(
    'service',
    'create',
    'graceful',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '2s',
    '--',
    'sh',
    '-c',
    `trap 'exit 0' TERM; ${loop}`,
  );
  await c.ok(
    'service',
    'create',
    'stubborn',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '2s',
    '--',
    'sh',
    '-c',
    `trap '' TERM; ${loop}`,
  );
  const [graceful] = await c.waitRunning('graceful', 1);
  const [stubborn] = await c.waitRunning('stubborn', 1);

  await c.ok('service', 'rm', 'graceful', 'stubborn');
  const stopped = async (task: string) => {
    const line = await c.manager.waitForLog(
      (l) => l.msg === 'task state' && l.task === task && l.state === 'shutdown',
    );
    const stopping = c.workers.get('w1')!.lines.find((l) => l.msg === 'stopping container' && l.task === task);
    return { exitCode: line.exitCode, waitedMs: (line.time as number) - (stopping!.time as number) };
  };
  const g = await stopped(graceful!.id);
  const s = await stopped(stubborn!.id);
  assert.equal(g.exitCode, 0, 'the graceful command got SIGTERM and exited on its own');
  assert.equal(s.exitCode, 137, 'the stubborn command was killed');
  assert.ok(s.waitedMs >= 1900, `SIGKILL came only after the 2 s stop timeout (waited ${s.waitedMs} ms)`);
  await waitFor('containers removed', async () => (await c.containers({ all: true })).length === 0);
});

test('explicit zeros reach the manager as zeros: --restart-delay 0 replaces a crashing slot at once, every time', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'crash',
    '--image',
    TEST_IMAGE,
    '--restart-delay',
    '0',
    '--restart-max-delay',
    '0',
    '--restart-window',
    '0',
    '--stop-timeout',
    '0',
    '--',
    'sh',
    '-c',
    'sleep 0.3; exit 1',
  );
  const { spec } = await c.inspect<{ spec: { stopTimeoutMs: number; restart: Record<string, number> } }>('crash');
  assert.deepEqual(spec.restart, { delayMs: 0, maxDelayMs: 0, maxAttempts: 0, windowMs: 0 });
  assert.equal(spec.stopTimeoutMs, 0);
  const events = await waitFor(
    'three replacements',
    async () => {
      const out = await c.ok('events', '--since', '10m', '--until', '0s', '--service', 'crash', '--format', 'json');
      const list = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string });
      return list.filter((e) => e.type === 'task-replaced').length >= 3 ? list : undefined;
    },
    60_000,
    250,
  );
  assert.equal(events.filter((e) => e.type === 'replacement-delayed').length, 0, 'no backoff was waited out');
});
