import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';

const HTTPD = ['--stop-timeout', '1s', '--', 'httpd', '-f', '-p', '8080', '-h', '/www'];

test('manager kill -9 and restart: services, tasks and nodes intact, nothing duplicated, the reconciler carries on', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.startWorker('w2');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '4', ...HTTPD);
  await c.ok('service', 'create', 'api', '--image', TEST_IMAGE, '--replicas', '2', ...HTTPD);
  const webBefore = await c.waitRunning('web', 4);
  const apiBefore = await c.waitRunning('api', 2);
  const containersBefore = (await c.containers()).map((x) => x.Id).sort();

  await c.manager.kill('SIGKILL');
  await c.startManager();

  // The workers reconnect by themselves and report what they run.
  await waitFor('both nodes ready again', async () => {
    const nodes = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{ status: string }>;
    return nodes.length === 2 && nodes.every((n) => n.status === 'ready');
  });
  const webAfter = await c.waitRunning('web', 4);
  const apiAfter = await c.waitRunning('api', 2);
  assert.deepEqual(webAfter.map((t) => t.id).sort(), webBefore.map((t) => t.id).sort(), 'same tasks, none new');
  assert.deepEqual(apiAfter.map((t) => t.id).sort(), apiBefore.map((t) => t.id).sort());
  assert.equal((await c.tasks('web')).length, 4, 'no duplicate or extra task records');
  assert.deepEqual((await c.containers()).map((x) => x.Id).sort(), containersBefore, 'the same containers, none new');

  // The reconciler carries on: a scale and a replacement after the restart.
  await c.ok('service', 'scale', 'web=5');
  await c.waitRunning('web', 5);
  await docker.getContainer(apiAfter[0]!.containerId).kill();
  await waitFor('api slot replaced after restart', async () =>
    (await c.tasks('api')).some((t) => t.id === apiAfter[0]!.id && t.state === 'failed'),
  );
  await c.waitRunning('api', 2);
});

test('manager kill -9 in the middle of a scale-up: no task lost, none duplicated', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '8', ...HTTPD);
  await c.manager.kill('SIGKILL');
  await c.startManager();
  const tasks = await c.waitRunning('web', 8);
  assert.deepEqual(
    tasks.map((t) => t.slot).sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  await waitFor(
    'one container per slot',
    async () => (await c.containers({ service: 'web', all: true })).length === 8,
  );
});

test('worker restart: it adopts the containers it was running instead of starting new ones', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '3', ...HTTPD);
  const before = await c.waitRunning('web', 3);

  await c.workers.get('w1')!.kill('SIGKILL');
  // While it is gone, one of its containers dies: the new worker must notice.
  await docker.getContainer(before[0]!.containerId).kill();
  const restarted = await c.startWorker('w1');
  assert.ok(
    restarted.lines.some((l) => l.msg === 'registered with manager' && l.id === before[0]!.nodeId),
    'same node id',
  );

  const after = await c.waitRunning('web', 3);
  const kept = after.filter((t) => before.some((b) => b.id === t.id && b.containerId === t.containerId));
  assert.equal(kept.length, 2, 'the two healthy containers were adopted, not replaced');
  const dead = (await c.tasks('web')).find((t) => t.id === before[0]!.id);
  assert.equal(dead?.state, 'failed');
  assert.equal(dead?.exitCode, 137);
  assert.equal((await c.containers({ service: 'web' })).length, 3);
});

test('a worker stopped with SIGTERM exits cleanly and leaves its containers running', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const worker = await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, ...HTTPD);
  const [task] = await c.waitRunning('web', 1);
  assert.equal(await worker.kill('SIGTERM'), 0, worker.tail());
  assert.ok(worker.lines.some((l) => l.msg === 'worker stopped'));
  assert.equal((await docker.getContainer(task!.containerId).inspect()).State.Running, true);
  await waitFor(
    'node down',
    async () => JSON.parse(await c.ok('node', 'ls', '--format', 'json'))[0].status === 'down',
  );
  assert.equal(await c.manager.kill('SIGTERM'), 0, c.manager.tail());
  assert.ok(c.manager.lines.some((l) => l.msg === 'manager stopped'));
});
