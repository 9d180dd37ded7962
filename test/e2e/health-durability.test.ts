import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, TEST_IMAGE, waitFor, type TaskJson } from '../helpers/cluster.js';

async function only(c: Cluster, service: string): Promise<TaskJson | undefined> {
  return (await c.live(service))[0];
}

test('health records survive a manager kill -9; a worker restart does not reset known health', async (t) => {
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
    '--health-http',
    'path=/health,port=8080',
    '--health-interval',
    '200ms',
    '--',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/www',
  );
  const before = await waitFor('healthy with results', async () => {
    const task = await only(c, 'web');
    return task?.health === 'healthy' && task.results.length >= 5 ? task : undefined;
  });

  await c.workers.get('w1')!.kill('SIGKILL');
  await c.manager.kill('SIGKILL');
  await c.startManager();
  const afterManager = await only(c, 'web');
  assert.equal(afterManager?.health, 'healthy', 'known health is still there, before any worker reconnects');
  assert.ok(afterManager!.results.length >= 5);
  assert.equal(afterManager!.phases.liveness!.lastTransitionAt, before.phases.liveness!.lastTransitionAt);

  await c.startWorker('w1');
  const afterWorker = await waitFor('new results after the worker restart', async () => {
    const task = await only(c, 'web');
    return task && Date.parse(task.results.at(-1)!.time) > Date.parse(afterManager!.results.at(-1)!.time)
      ? task
      : undefined;
  });
  assert.equal(afterWorker.id, before.id, 'the same task, adopted');
  assert.equal(afterWorker.health, 'healthy', 'not reset to starting');
  assert.equal(
    afterWorker.phases.liveness!.lastTransitionAt,
    before.phases.liveness!.lastTransitionAt,
    'no transition happened',
  );
});

test('the worker keeps probing while the manager is down, and its transitions reach the manager when it is back', async (t) => {
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
    '--liveness-cmd',
    'test -f /tmp/alive',
    '--liveness-interval',
    '200ms',
    '--liveness-retries',
    '2',
    '--readiness-cmd',
    'test -f /tmp/ready',
    '--readiness-interval',
    '200ms',
    '--readiness-retries',
    '1',
    '--',
    'sh',
    '-c',
    'touch /tmp/alive /tmp/ready; exec sleep 1000',
  );
  const task = await waitFor('healthy and ready', async () => {
    const x = await only(c, 'web');
    return x?.health === 'healthy' && x.ready ? x : undefined;
  });

  await c.manager.kill('SIGKILL');
  // While the manager is away: readiness goes down and comes back (two transitions), and
  // liveness fails for good.
  await c.exec(task.containerId, ['rm', '/tmp/ready']);
  await c.workers.get('w1')!.waitForLog((l) => l.msg === 'readiness unhealthy' && l.task === task.id);
  await c.exec(task.containerId, ['touch', '/tmp/ready']);
  await c.workers
    .get('w1')!
    .waitForLog((l) => l.msg === 'readiness healthy' && l.task === task.id && l.from === 'unhealthy');
  await c.exec(task.containerId, ['rm', '/tmp/alive']);
  await c.workers.get('w1')!.waitForLog((l) => l.msg === 'liveness unhealthy' && l.task === task.id);

  await c.startManager();
  const failed = await waitFor('the liveness verdict reached the manager', async () =>
    (await c.tasks('web')).find((x) => x.id === task.id && x.state === 'failed'),
  );
  assert.equal(failed.error, 'liveness probe failed: exit code 1');
  assert.equal(failed.phases.readiness!.status, 'healthy');
  const seen = c.manager.lines
    .filter((l) => l.msg === 'health transition' && l.task === task.id)
    .map((l) => `${l.phase}:${l.from}→${l.to}`);
  assert.deepEqual(
    seen,
    ['readiness:healthy→unhealthy', 'readiness:unhealthy→healthy', 'liveness:healthy→unhealthy'],
    'every transition of the outage arrived, in order',
  );
  await c.waitRunning('web', 1);
});
