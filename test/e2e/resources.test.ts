import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, TEST_IMAGE, docker, waitFor, type TaskJson } from '../helpers/cluster.js';

interface NodeJson {
  name: string;
  capacity: { nanoCpus: number; memoryBytes: number } | null;
  reserved: { nanoCpus: number; memoryBytes: number };
  free: { nanoCpus: number; memoryBytes: number } | null;
}

interface EventJson {
  type: string;
  service: string;
  reason: string;
}

async function events(c: Cluster, service: string): Promise<EventJson[]> {
  const out = await c.ok('events', '--since', '10m', '--until', '0s', '--format', 'json', '--service', service);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventJson);
}

async function node(c: Cluster): Promise<NodeJson> {
  return (JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as NodeJson[])[0]!;
}

/** The task of `service` that should run, once it says `pending` with a message matching `why`. */
function pendingFor(c: Cluster, service: string, why: RegExp): Promise<TaskJson> {
  return waitFor(`${service} pending: ${why}`, async () => {
    const [task] = (await c.tasks(service)).filter((t) => t.desiredState === 'running');
    const message = (await c.ok('service', 'ps', service)).split('\n').find((l) => why.test(l));
    return task?.state === 'pending' && message ? task : undefined;
  });
}

test('limits reach the container and inspect says them in words; bad sizes exit 2 and create nothing', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const limits = ['--limit-cpu', '0.5', '--limit-memory', '64MiB', '--limit-pids', '200'];
  const reservations = ['--reserve-cpu', '0.25', '--reserve-memory', '32m'];
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, ...limits, ...reservations, '--', 'sleep', '1000');
  const [task] = await c.waitRunning('web', 1);
  const info = await docker.getContainer(task!.containerId).inspect();
  assert.equal(info.HostConfig.NanoCpus, 500_000_000);
  assert.equal(info.HostConfig.Memory, 64 * 2 ** 20);
  assert.equal(info.HostConfig.MemorySwap, 64 * 2 ** 20, 'no swap beyond the limit');
  assert.equal(info.HostConfig.PidsLimit, 200);
  const text = await c.ok('service', 'inspect', 'web');
  assert.match(
    text,
    /^Resources:\s+limits 0\.5 CPU, 64 MiB memory, 200 processes; reserved 0\.25 CPU, 32 MiB memory$/m,
  );
  const n = await node(c);
  assert.ok(n.capacity && n.capacity.nanoCpus >= 1e9, 'the capacity comes from the engine');
  assert.deepEqual(n.reserved, { nanoCpus: 250_000_000, memoryBytes: 32 * 2 ** 20 });
  assert.match(await c.ok('node', 'inspect', n.name), /^Reserved:\s+0\.25 CPU, 32 MiB memory/m);

  const cpus = n.capacity!.nanoCpus / 1e9;
  for (const [args, line] of [
    [['--limit-memory', '-64m'], /--limit-memory "-64m": write a size like 64m/],
    [['--limit-memory', 'lots'], /--limit-memory "lots": write a size/],
    [['--reserve-memory', '128m', '--limit-memory', '64m'], /--reserve-memory .*above --limit-memory 64 MiB/],
    [['--reserve-cpu', String(cpus + 1)], /--reserve-cpu .*no node has that many \(the most: /],
    [['--limit-cpu', String(cpus * 4)], /--limit-cpu .*no node has that many/],
    [['--health-throttled', 'sometimes'], /--health-throttled "sometimes": use one of unknown, failure/],
  ] as const) {
    const res = await c.cli('service', 'create', 'bad', '--image', TEST_IMAGE, ...args, '--', 'sleep', '1');
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, line);
    assert.equal(res.stderr.trim().split('\n').length, 1, 'one line');
  }
  const bad = await c.cli('service', 'update', 'web', '--reserve-memory', '1g');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--reserve-memory .*above --limit-memory 64 MiB/);
  const ls = JSON.parse(await c.ok('service', 'ls', '--format', 'json')) as Array<{ name: string }>;
  assert.deepEqual(
    ls.map((s) => s.name),
    ['web'],
    'nothing created',
  );
  assert.equal((await c.running('web'))[0]!.id, task!.id, 'nothing changed');
});

test('a task past its memory limit fails as out of memory and is replaced after its backoff', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // dd holds a 64 MiB block in memory: past a 16 MiB limit with no swap, the kernel kills it.
  await c.ok(
    'service',
    'create',
    'hog',
    '--image',
    TEST_IMAGE,
    '--limit-memory',
    '16m',
    '--restart-delay',
    '2s',
    '--detach',
    '--',
    'sh',
    '-c',
    'sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1',
  );
  const failed = await waitFor(
    'three tasks out of memory',
    async () => {
      const ended = (await c.tasks('hog')).filter((x) => x.state === 'failed');
      return ended.length >= 3 ? ended : undefined;
    },
    90_000,
  );
  for (const x of failed) assert.equal(x.error, 'out of memory (limit 16 MiB)');
  // First replacement at once, then the backoff: the third task waited at least the delay.
  const created = failed.map((x) => Date.parse(x.createdAt)).sort((a, b) => a - b);
  const ended = failed.map((x) => Date.parse(x.updatedAt)).sort((a, b) => a - b);
  assert.ok(
    created[2]! - ended[1]! >= 1900,
    `the third task came ${created[2]! - ended[1]!} ms after the second ended`,
  );
  const ps = await c.ok('service', 'ps', 'hog');
  assert.match(ps, /out of memory \(limit 16 MiB\)/);
  assert.match(
    await c.ok('service', 'inspect', 'hog'),
    /Slot 1:\s+\d+ failures in a row \(out of memory \(limit 16 MiB\)\)/,
  );
  const failures = (await events(c, 'hog')).filter((e) => /out of memory \(limit 16 MiB\)/.test(e.reason));
  assert.ok(failures.length >= 1, 'an event says out of memory');
});

test('placement: a reservation no node has waits with the reason; an update lowering it places it; one raising it past the node pauses, the task serving on', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const res = await c.attached(
    'service',
    'create',
    'big',
    '--image',
    TEST_IMAGE,
    '--reserve-memory',
    '4096g',
    '--',
    'sleep',
    '1000',
  );
  assert.equal(res.code, 1, `the wait ends with the reason: ${res.stdout} ${res.stderr}`);
  assert.match(res.stderr, /no node has 4 TiB unreserved memory \(1 node checked\)/);
  await pendingFor(c, 'big', /no node has 4 TiB unreserved memory \(1 node checked\)/);
  await c.ok('service', 'update', 'big', '--reserve-memory', '32m', '--detach');
  const [running] = await c.waitRunning('big', 1, 60_000);
  assert.equal(running!.node, c.nodeName('w1'));
  // An update no node has room for: the running task is not stopped for it; the update pauses.
  const stuck = await c.attachedFor(
    120_000,
    'service',
    'update',
    'big',
    '--reserve-memory',
    '4096g',
    '--stop-timeout',
    '1s',
  );
  assert.equal(stuck.code, 1, stuck.stderr);
  assert.match(stuck.stderr, /not placed: no node has 4 TiB unreserved memory/);
  const status = (await c.inspect<{ updateStatus: { state: string } }>('big')).updateStatus;
  assert.equal(status.state, 'paused');
  assert.deepEqual(
    (await c.running('big')).map((x) => x.id),
    [running!.id],
    'the task that ran still runs',
  );
});

test('two services filling the node keep a third pending until one is removed, then it runs', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const { capacity } = await waitFor('the node with its capacity', async () => {
    const n = await node(c);
    return n.capacity ? n : undefined;
  });
  const half = String(capacity!.nanoCpus / 2e9);
  const create = (name: string, ...more: string[]) =>
    c.cli(
      'service',
      'create',
      name,
      '--image',
      TEST_IMAGE,
      '--reserve-cpu',
      half,
      '--stop-timeout',
      '1s',
      ...more,
      '--',
      'sleep',
      '1000',
    );
  assert.equal((await create('a')).code, 0);
  assert.equal((await create('b')).code, 0);
  assert.deepEqual((await node(c)).free?.nanoCpus, 0);
  assert.equal((await create('c', '--detach')).code, 0);
  await pendingFor(c, 'c', new RegExp(`no node has ${half} CPUs? unreserved \\(1 node checked\\)`));
  const nodeLs = await c.ok('node', 'ls');
  assert.match(nodeLs, new RegExp(`\\s0 of ${capacity!.nanoCpus / 1e9}\\s`), 'node ls: no CPU free');
  await c.ok('service', 'rm', 'a');
  await c.waitRunning('c', 1, 60_000);
  assert.equal((await c.running('b')).length, 1, 'b untouched');
});

test('a CPU-limited task spinning while its exec check times out: the results say it was throttled', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // A spinning command under a tiny CPU limit: the check (itself busy) cannot finish in time.
  await c.ok(
    'service',
    'create',
    'spin',
    '--image',
    TEST_IMAGE,
    '--limit-cpu',
    '0.02',
    '--health-cmd',
    'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done',
    '--health-timeout',
    '500ms',
    '--health-interval',
    '200ms',
    '--health-retries',
    '2',
    '--detach',
    '--',
    'sh',
    '-c',
    'while :; do :; done',
  );
  // Twice forgiven (retries 2), then counted twice: a spinning, deadlocked task is still replaced.
  const failed = await waitFor(
    'the task failed by its liveness',
    async () => (await c.tasks('spin')).find((x) => x.state === 'failed'),
    120_000,
  );
  assert.match(
    failed.error,
    /^liveness probe failed: timed out after 500ms; container CPU-throttled \d+% of that time \(limit 0\.02 CPU\)$/,
  );
  const inspect = await c.inspect('spin');
  const runs = inspect.tasks.find((x) => x.id === failed.id)!.results;
  const throttled = runs.filter((r) => /timed out/.test(r.output));
  assert.ok(throttled.length >= 4, `${throttled.length} timed-out runs`);
  const words = throttled.map((r) => `${r.outcome}/${r.counted}`);
  assert.deepEqual(words.slice(0, 4), ['unknown/false', 'unknown/false', 'failure/true', 'failure/true']);
  const percents = throttled.map((r) => r.throttledPercent);
  assert.ok(
    percents.every((p) => p !== null && p >= 50),
    `throttled ${percents.join(', ')}%`,
  );
  const ps = await c.ok('service', 'ps', 'spin');
  assert.match(ps, /container CPU-throttled \d+% of that time \(limit 0\.02 CPU\)/);
  const text = await c.ok('service', 'inspect', 'spin');
  assert.match(text, /^Throttled probes:\s+a failure while its container was CPU-throttled 50% of the run or more/m);
});
