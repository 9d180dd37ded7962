import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { GrpcHealth } from '../helpers/grpc-health.js';
import { Cluster, TEST_IMAGE, waitFor, type TaskJson } from '../helpers/cluster.js';

interface NodeJson {
  name: string;
  status: string;
  availability: string;
  engine: string;
  tasks: number;
  history: Array<{ time: string; status: string; reason: string }>;
}

async function nodes(c: Cluster): Promise<NodeJson[]> {
  return JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as NodeJson[];
}

async function node(c: Cluster, name: string): Promise<NodeJson> {
  return JSON.parse(await c.ok('node', 'inspect', c.nodeName(name), '--format', 'json')) as NodeJson;
}

/**
 * A cluster whose workers heartbeat every 500 ms: down after 1.5 s without one. Fast enough for
 * tests, slow enough that a busy machine never makes a live worker look down.
 */
async function fastCluster(): Promise<Cluster> {
  const c = await Cluster.create({ managerArgs: ['--heartbeat-interval', '500ms'] });
  return c;
}

test('a worker killed with -9: its node turns down within the bound, its tasks run elsewhere, and when it returns its stale containers are stopped', async (t) => {
  const c = await fastCluster();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.startWorker('w2');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '4',
    '--stop-timeout',
    '1s',
    '--',
    'sleep',
    '1000',
  );
  const before = await c.waitRunning('web', 4);
  const onW1 = before.filter((x) => x.node === c.nodeName('w1'));
  assert.equal(onW1.length, 2);

  // How fast is the bench's figure (node loss); here: down, for the right reason, then moved.
  await c.workers.get('w1')!.kill('SIGKILL');
  await waitFor('w1 down', async () => (await node(c, 'w1')).status === 'down', 30_000, 50);
  const after = await c.waitRunning('web', 4);
  assert.ok(
    after.every((x) => x.node === c.nodeName('w2')),
    'all four run on w2',
  );
  for (const old of onW1) {
    const task = (await c.tasks('web')).find((x) => x.id === old.id)!;
    assert.equal(task.state, 'orphaned');
    assert.equal(task.error, `node ${c.nodeName('w1')} is down`);
  }
  const listed = (await nodes(c)).find((n) => n.name === c.nodeName('w1'))!;
  assert.equal(listed.status, 'down', 'still listed, as down');
  assert.match((await node(c, 'w1')).history.at(-1)!.reason, /no heartbeat for \d+ ms \(3 missed\)/);
  assert.match(await c.ok('node', 'ls'), new RegExp(`${c.nodeName('w1')}\\s+down\\s+active`));
  // Its containers still run, stale: nobody is there to stop them.
  for (const old of onW1)
    assert.ok(
      (await c.containers()).some((x) => x.Id === old.containerId),
      `stale container ${old.containerId} still runs`,
    );

  await c.startWorker('w1');
  await waitFor('w1 ready', async () => (await node(c, 'w1')).status === 'ready');
  await waitFor('stale containers stopped', async () => {
    const running = await c.containers();
    return onW1.every((old) => !running.some((x) => x.Id === old.containerId));
  });
  assert.equal((await c.running('web')).length, 4);
});

test('a worker frozen with SIGSTOP is declared down and its tasks move; after SIGCONT it is ready again and stops its replaced tasks', async (t) => {
  const c = await fastCluster();
  t.after(() => c.destroy());
  const w1 = await c.startWorker('w1');
  await c.startWorker('w2');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '2',
    '--stop-timeout',
    '1s',
    '--',
    'sleep',
    '1000',
  );
  const before = await c.waitRunning('web', 2);
  const frozen = before.find((x) => x.node === c.nodeName('w1'))!;
  w1.process.kill('SIGSTOP');
  t.after(() => w1.process.kill('SIGCONT'));
  await waitFor('w1 down', async () => (await node(c, 'w1')).status === 'down', 10_000, 50);
  // One rule for endpoints (core's isEndpoint): a task on a node that is down is none, for
  // GetEndpoints as for the proxies, whether or not it was moved yet.
  const endpoints = (await c.inspect<{ endpoints: Array<{ node: string }> }>('web')).endpoints;
  assert.ok(!endpoints.some((e) => e.node === c.nodeName('w1')), JSON.stringify(endpoints));
  await waitFor(
    'both on w2',
    async () =>
      (await c.running('web')).every((x) => x.node === c.nodeName('w2')) && (await c.running('web')).length === 2,
  );
  w1.process.kill('SIGCONT');
  await waitFor('w1 ready', async () => (await node(c, 'w1')).status === 'ready');
  await waitFor(
    'its replaced container stopped',
    async () => !(await c.containers()).some((x) => x.Id === frozen.containerId),
  );
  const history = (await node(c, 'w1')).history.map((h) => h.status);
  assert.deepEqual(history.slice(-3), ['ready', 'down', 'ready']);
});

test('drain moves tasks away gracefully (successor first) and places none on the node; activate takes it back', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.startWorker('w2');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '2',
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
  await waitFor('2 healthy', async () => (await c.live('web')).filter((x) => x.health === 'healthy').length === 2);
  const onW1 = (await c.live('web')).find((x) => x.node === c.nodeName('w1'))!;

  assert.equal((await c.ok('node', 'drain', c.nodeName('w1'))).trim(), `${c.nodeName('w1')}: drain`);
  const moved = await waitFor('all on w2 and healthy', async () => {
    const live = await c.live('web');
    return live.length === 2 && live.every((x) => x.node === c.nodeName('w2') && x.health === 'healthy')
      ? live
      : undefined;
  });
  const successor = moved.find((x) => x.slot === onW1.slot)!;
  // The old task is told to stop once its successor is healthy; sleep ignores SIGTERM, so it
  // ends after its 1 s stop timeout, a moment after the successor is shown healthy.
  const ended = await waitFor('the old task ended', async () => {
    const task = (await c.tasks('web')).find((x) => x.id === onW1.id);
    return task && task.state !== 'running' && task.state !== 'starting' ? task : undefined;
  });
  assert.equal(ended.state, 'shutdown');
  const started = c.manager.lines.find(
    (l) => l.msg === 'task state' && l.task === successor.id && l.state === 'running',
  );
  const stopped = c.workers.get('w1')!.lines.find((l) => l.msg === 'stopping container' && l.task === onW1.id);
  assert.ok(
    started && stopped && (started.time as number) <= (stopped.time as number),
    'the successor ran before the old task was stopped',
  );
  assert.equal((await node(c, 'w1')).availability, 'drain');

  await c.ok('service', 'scale', 'web=4');
  await c.waitRunning('web', 4);
  assert.ok(
    (await c.running('web')).every((x: TaskJson) => x.node === c.nodeName('w2')),
    'nothing placed on a draining node',
  );
  await c.ok('node', 'activate', c.nodeName('w1'));
  await c.ok('service', 'scale', 'web=6');
  await waitFor('w1 used again', async () => (await c.running('web')).some((x) => x.node === c.nodeName('w1')));
  const e = await c.ok('events', '--since', '10m', '--until', '0s');
  assert.match(e, /node-drain .* drained by the operator/);
  assert.match(e, /task-drained/);
});

test('a hung Docker engine under a worker: the node is degraded, nothing is replaced for health, and all recovers when it answers', async (t) => {
  const c = await fastCluster();
  t.after(() => c.destroy()); // runs after the engine was resumed (in the finally below)
  const dockerd = execFileSync('pgrep', ['-x', 'dockerd']).toString().trim().split('\n')[0]!;
  const resume = () => execFileSync('kill', ['-CONT', dockerd]);
  const worker = await c.startWorker('w1');
  const workerHealth = new GrpcHealth((await worker.waitForLog((l) => l.msg === 'health endpoints')).grpc as string);
  t.after(() => workerHealth.close());
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '2',
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'true',
    '--health-interval',
    '200ms',
    '--health-timeout',
    '2s',
    '--health-retries',
    '2',
    '--',
    'sleep',
    '1000',
  );
  const before = await waitFor('2 healthy', async () => {
    const live = await c.live('web');
    return live.length === 2 && live.every((x) => x.health === 'healthy') ? live : undefined;
  });

  execFileSync('kill', ['-STOP', dockerd]);
  try {
    await waitFor('engine unreachable', async () => (await node(c, 'w1')).engine.startsWith('unreachable'), 15_000);
    assert.equal((await node(c, 'w1')).status, 'ready', 'the node itself still heartbeats');
    assert.match(await c.ok('node', 'ls'), /ready, engine unreachable/);
    await waitFor(
      "the worker's own health NOT_SERVING (its engine is critical to it)",
      async () => (await workerHealth.check()) === 'NOT_SERVING',
      15_000,
    );
    // A check run in the freeze ends after its timeout (2 s) and the engine's 1 s of grace.
    await waitFor(
      'probes to say unknown, not failure',
      async () => (await c.live('web')).every((x) => x.results.some((r) => r.outcome === 'unknown')),
      15_000,
    );
  } finally {
    resume();
  }

  await waitFor('engine ok', async () => (await node(c, 'w1')).engine === 'ok', 15_000);
  await waitFor('the worker SERVING again', async () => (await workerHealth.check()) === 'SERVING', 15_000);
  const after = await waitFor('healthy again', async () => {
    const live = await c.live('web');
    return live.length === 2 && live.every((x) => x.health === 'healthy') ? live : undefined;
  });
  assert.deepEqual(after.map((x) => x.id).sort(), before.map((x) => x.id).sort(), 'no task was replaced');
  assert.equal((await c.tasks('web')).length, 2);
  const history = (await node(c, 'w1')).history.map((h) => h.status);
  assert.ok(history.includes('degraded'), `degraded while the engine hung: ${history}`);
  assert.ok(
    !history.includes('down'),
    `a node whose worker heartbeats is never down, however long its engine hangs: ${history}`,
  );
});

test('dockerd stopped and started again under a worker: no replacement storm while it is away, one replacement per dead container after', async (t) => {
  const c = await fastCluster();
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
    '--health-cmd',
    'true',
    '--health-interval',
    '200ms',
    '--health-retries',
    '2',
    '--',
    'sleep',
    '1000',
  );
  await waitFor('3 healthy', async () => (await c.live('web')).filter((x) => x.health === 'healthy').length === 3);

  const pid = execFileSync('pgrep', ['-x', 'dockerd']).toString().trim().split('\n')[0]!;
  execFileSync('kill', ['-TERM', pid]);
  try {
    await waitFor(
      'dockerd gone',
      () => {
        try {
          execFileSync('kill', ['-0', pid], { stdio: 'ignore' });
          return false;
        } catch {
          return true;
        }
      },
      60_000,
      100,
    );
    await waitFor('engine unreachable', async () => (await node(c, 'w1')).engine.startsWith('unreachable'), 15_000);
    await new Promise((r) => setTimeout(r, 2000));
    const e = await c.ok('events', '--since', '10m', '--until', '0s', '--format', 'json');
    assert.ok(!/probe failed/.test(e), 'nothing failed for health while the engine was away');
  } finally {
    execFileSync('bash', ['scripts/setup'], { cwd: new URL('../../../', import.meta.url), stdio: 'ignore' });
  }
  await waitFor('engine ok', async () => (await node(c, 'w1')).engine === 'ok', 30_000);
  // The containers died with the engine: each slot is replaced, and all is healthy again. A
  // replacement may be tried once while the engine is still stopping (before the next heartbeat
  // says it is away) and be refused; none is placed while the node reports its engine away.
  await waitFor(
    '3 healthy again',
    async () => (await c.live('web')).filter((x) => x.health === 'healthy' && x.state === 'running').length === 3,
    60_000,
  );
  const perSlot = new Map<number, number>();
  for (const x of await c.tasks('web')) perSlot.set(x.slot, (perSlot.get(x.slot) ?? 0) + 1);
  const story = JSON.stringify((await c.tasks('web')).map((x) => [x.slot, x.state, x.error]));
  assert.ok(
    [...perSlot.values()].every((n) => n <= 3),
    `no storm: at most one refused attempt and one replacement per slot: ${story}`,
  );
  assert.ok(
    (await c.tasks('web')).every((x) => !/probe failed/.test(x.error)),
    `nothing failed for health: ${story}`,
  );
});
