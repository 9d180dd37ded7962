import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_RESOURCES,
  ValidationError,
  describeResult,
  formatBytes,
  formatCpus,
  judgeThrottled,
  noRoomReason,
  parseCpuStat,
  parseCpus,
  parseSize,
  resourcesText,
  throttledPercent,
  validateResources,
  validateServiceSpec,
  type Resources,
} from '@warren/core';
import { cpuStatPath } from '@warren/worker';
import { resourcesFromFlags, throttledFromFlags } from '@warren/cli';
import { World } from '../helpers/reconcile-world.js';
import { testSpec } from '../helpers/spec.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function resources(over: {
  limits?: Partial<Resources['limits']>;
  reservations?: Partial<Resources['reservations']>;
}) {
  return {
    limits: { ...NO_RESOURCES.limits, ...over.limits },
    reservations: { ...NO_RESOURCES.reservations, ...over.reservations },
  };
}

test('sizes are read as Docker reads them: powers of 1024 however they are spelled', () => {
  for (const [text, bytes] of [
    ['64m', 64 * MiB],
    ['64MiB', 64 * MiB],
    ['64MB', 64 * MiB],
    ['64M', 64 * MiB],
    ['1g', GiB],
    ['1GiB', GiB],
    ['1.5g', 1.5 * GiB],
    ['512k', 512 * 1024],
    ['1048576', MiB],
    ['0', 0],
  ] as const) {
    assert.equal(parseSize(text, '--limit-memory'), bytes, text);
  }
  for (const bad of ['-64m', 'abc', '', '64 x', '1e9', '64mm', '5p']) {
    assert.throws(
      () => parseSize(bad, '--limit-memory'),
      (e: unknown) => e instanceof ValidationError && e.field === '--limit-memory',
      bad,
    );
  }
  assert.equal(parseCpus('0.5', '--limit-cpu'), 5e8);
  assert.equal(parseCpus('2', '--limit-cpu'), 2e9);
  for (const bad of ['-1', 'half', '', '1,5']) assert.throws(() => parseCpus(bad, '--reserve-cpu'), ValidationError);
});

test('resources in words, and the checks: a reservation above its limit, limits the engine refuses', () => {
  assert.equal(formatBytes(64 * MiB), '64 MiB');
  assert.equal(formatBytes(1.5 * GiB), '1.5 GiB');
  assert.equal(formatBytes(25_276_071_936 - 32 * MiB), '23.51 GiB', 'a small reservation shows');
  assert.equal(formatCpus(5e8), '0.5 CPU');
  assert.equal(formatCpus(2e9), '2 CPUs');
  const r = resources({
    limits: { nanoCpus: 5e8, memoryBytes: 64 * MiB, pids: 200 },
    reservations: { nanoCpus: 2.5e8, memoryBytes: 32 * MiB },
  });
  assert.equal(
    resourcesText(validateResources(r)),
    'limits 0.5 CPU, 64 MiB memory, 200 processes; reserved 0.25 CPU, 32 MiB memory',
  );
  assert.equal(resourcesText(undefined), '');
  const refused = (over: Parameters<typeof resources>[0], field: string, reason: RegExp) =>
    assert.throws(
      () => validateResources(resources(over)),
      (e: unknown) => e instanceof ValidationError && e.field === field && reason.test(e.reason),
    );
  refused(
    { limits: { memoryBytes: 64 * MiB }, reservations: { memoryBytes: 128 * MiB } },
    '--reserve-memory',
    /above --limit-memory 64 MiB/,
  );
  refused(
    { limits: { nanoCpus: 5e8 }, reservations: { nanoCpus: 1e9 } },
    '--reserve-cpu',
    /above --limit-cpu 0.5 CPU/,
  );
  refused({ limits: { memoryBytes: MiB } }, '--limit-memory', /at least 6 MiB/);
  refused({ limits: { nanoCpus: 1e6 } }, '--limit-cpu', /at least 0.01 CPU/);
  refused({ limits: { pids: -1 } }, '--limit-pids', /out of range/);
  // The one gate for specs refuses them too (a hand-made client's spec).
  assert.throws(
    () => validateServiceSpec(testSpec({ resources: resources({ reservations: { memoryBytes: -1 } }) })),
    (e: unknown) => e instanceof ValidationError && e.field === '--reserve-memory',
  );
});

test('flags: create sets what is given; update keeps what no flag names; 0 removes; --health-throttled', () => {
  assert.deepEqual(resourcesFromFlags({}), {});
  const { resources: created } = resourcesFromFlags({ limitMemory: '64m', reserveCpu: '0.25', limitPids: '100' });
  assert.deepEqual(
    created,
    resources({ limits: { memoryBytes: 64 * MiB, pids: 100 }, reservations: { nanoCpus: 2.5e8 } }),
  );
  const { resources: updated } = resourcesFromFlags({ limitMemory: '128MiB', reserveCpu: '0' }, created);
  assert.deepEqual(updated, resources({ limits: { memoryBytes: 128 * MiB, pids: 100 } }));
  assert.deepEqual(
    resourcesFromFlags({ limitMemory: '0', limitPids: '0' }, updated),
    {},
    'nothing left: no resources',
  );
  assert.throws(
    () => resourcesFromFlags({ limitPids: '1.5' }),
    (e: unknown) => (e as ValidationError).field === '--limit-pids',
  );
  assert.deepEqual(throttledFromFlags({ healthThrottled: 'failure' }, {}), { throttled: 'failure' });
  assert.deepEqual(throttledFromFlags({ healthThrottled: 'unknown' }, { throttled: 'failure' }), {});
  assert.deepEqual(throttledFromFlags({}, { throttled: 'failure' }), { throttled: 'failure' });
  assert.throws(
    () => throttledFromFlags({ healthThrottled: 'ignore' }, {}),
    (e: unknown) =>
      e instanceof ValidationError && e.field === '--health-throttled' && /unknown, failure/.test(e.reason),
  );
});

test('placement: a task goes only where its reservation fits; one that fits nowhere waits and says why', () => {
  const w = new World();
  w.nodes = [
    {
      id: 'n1',
      name: 'node-1',
      ready: true,
      images: ['warren-test:latest'],
      capacity: { nanoCpus: 2e9, memoryBytes: 4 * GiB },
    },
    {
      id: 'n2',
      name: 'node-2',
      ready: true,
      images: ['warren-test:latest'],
      capacity: { nanoCpus: 2e9, memoryBytes: 2 * GiB },
    },
  ];
  w.service('big', 1, 'warren-test:latest', { resources: resources({ reservations: { memoryBytes: 3 * GiB } }) });
  w.pass();
  assert.deepEqual(
    w.live('svc-big').map((t) => t.nodeId),
    ['n1'],
    'only node-1 has 3 GiB',
  );
  w.service('huge', 1, 'warren-test:latest', { resources: resources({ reservations: { memoryBytes: 4 * GiB } }) });
  w.pass();
  const huge = w.live('svc-huge')[0]!;
  assert.equal(huge.state, 'pending');
  assert.equal(huge.message, 'no node has 4 GiB unreserved memory (2 nodes checked)');
  assert.ok(w.lastPlan!.waitingForRoom.has('svc-huge'));
  // Two CPUs on each node: four tasks of one CPU fill them, the fifth waits.
  w.service('cpu', 5, 'warren-test:latest', { resources: resources({ reservations: { nanoCpus: 1e9 } }) });
  w.pass();
  const cpu = w.live('svc-cpu');
  assert.deepEqual(cpu.map((t) => t.nodeId).sort(), ['', 'n1', 'n1', 'n2', 'n2']);
  assert.equal(cpu.find((t) => t.nodeId === '')!.message, 'no node has 1 CPU unreserved (2 nodes checked)');
  // Room frees when a task ends: the waiting one is placed in the next pass.
  w.observe(w.live('svc-big')[0]!.id, { state: 'failed', error: 'gone' });
  w.services = w.services.filter((s) => s.id !== 'svc-big');
  w.pass();
  w.pass();
  assert.equal(w.live('svc-huge')[0]!.nodeId, 'n1', 'placed once node-1 has room');
  // A node whose capacity is not known takes any reservation.
  const unknown = new World();
  unknown.service('huge', 1, 'warren-test:latest', {
    resources: resources({ reservations: { memoryBytes: 64 * GiB } }),
  });
  unknown.pass();
  assert.equal(unknown.live('svc-huge')[0]!.state, 'assigned');
  assert.equal(
    noRoomReason({ nanoCpus: 3e9, memoryBytes: 8 * GiB }, [
      { nanoCpus: 2e9, memoryBytes: 16 * GiB },
      { nanoCpus: 4e9, memoryBytes: GiB },
    ]),
    'no node has 3 CPUs and 8 GiB of memory unreserved (2 nodes checked)',
  );
});

test('a rollout whose new task finds no room: the old task keeps serving, the update pauses with the reason', () => {
  const w = new World();
  const node = { id: 'n1', name: 'node-1', ready: true, images: ['warren-test:latest'] };
  w.nodes = [{ ...node, capacity: { nanoCpus: 2e9, memoryBytes: 4 * GiB } }];
  w.service('web', 1, 'warren-test:latest', {
    stopTimeoutMs: 1000,
    resources: resources({ reservations: { memoryBytes: 3 * GiB } }),
  });
  w.pass();
  const old = w.live()[0]!;
  w.good(old.id);
  // 3 GiB → 8 GiB: no room even once the old task's 3 GiB are freed, so it is not stopped.
  w.update({ resources: resources({ reservations: { memoryBytes: 8 * GiB } }) });
  w.pass();
  assert.equal(w.tasks.find((t) => t.id === old.id)!.desiredState, 'running', 'the old task keeps serving');
  const waiting = w.live().find((t) => t.id !== old.id)!;
  assert.equal(waiting.state, 'pending');
  assert.match(waiting.message, /^no node has 8 GiB unreserved memory/);
  assert.equal(w.status()?.state, 'updating', 'not judged before the stop timeout and the grace');
  w.now += 1000 + 10_000;
  w.pass();
  assert.equal(w.status()?.state, 'paused');
  assert.match(w.status()!.message, /not placed: no node has 8 GiB unreserved memory/);
  assert.deepEqual(
    w.live().map((t) => t.id),
    [old.id],
    'the old task alone',
  );
  // 3 GiB → 4 GiB fits once the old task's room is freed: stop-first as usual.
  const v = new World();
  v.nodes = w.nodes;
  v.service('web', 1, 'warren-test:latest', { resources: resources({ reservations: { memoryBytes: 3 * GiB } }) });
  v.pass();
  const first = v.live()[0]!;
  v.good(first.id);
  v.update({ resources: resources({ reservations: { memoryBytes: 4 * GiB } }) });
  v.pass();
  assert.equal(v.tasks.find((t) => t.id === first.id)!.desiredState, 'shutdown', 'stopped first');
  v.observe(first.id, { state: 'shutdown' });
  v.pass();
  assert.equal(v.live()[0]!.state, 'assigned', 'placed in the room the old task freed');
});

test('throttling: the share of periods, and a throttled failure forgiven up to the retries in a row', () => {
  const stat = 'nr_periods 120\nnr_throttled 30\nthrottled_time 123\n';
  assert.deepEqual(parseCpuStat(stat), { periods: 120, throttled: 30 });
  assert.deepEqual(parseCpuStat('usage_usec 5\nnr_periods 7\nnr_throttled 2\nthrottled_usec 9'), {
    periods: 7,
    throttled: 2,
  });
  assert.equal(parseCpuStat('usage_usec 5'), undefined);
  assert.equal(throttledPercent({ periods: 100, throttled: 10 }, { periods: 110, throttled: 18 }), 80);
  assert.equal(throttledPercent({ periods: 5, throttled: 1 }, { periods: 5, throttled: 1 }), 0, 'no period: idle');
  // retries 3: three throttled failures are forgiven, the next ones count until the row ends.
  let row = 0;
  const outcomes: string[] = [];
  for (const [outcome, percent] of [
    ['failure', 90],
    ['failure', 85],
    ['failure', 60],
    ['failure', 95],
    ['failure', 95],
    ['success', 95],
    ['failure', 95],
    ['failure', 10],
  ] as const) {
    const v = judgeThrottled(outcome, percent, undefined, row, 3);
    row = v.forgivenInRow;
    outcomes.push(v.outcome);
  }
  assert.deepEqual(outcomes, ['unknown', 'unknown', 'unknown', 'failure', 'failure', 'success', 'unknown', 'failure']);
  assert.equal(judgeThrottled('failure', 100, 'failure', 0, 3).outcome, 'failure', '--health-throttled failure');
  // An exec the engine could not start or stop in a starved container is the container's failure.
  assert.deepEqual(judgeThrottled('unknown', 100, undefined, 0, 2), { outcome: 'unknown', forgivenInRow: 1 });
  assert.deepEqual(judgeThrottled('unknown', 100, undefined, 2, 2), { outcome: 'failure', forgivenInRow: 2 });
  assert.deepEqual(judgeThrottled('unknown', 10, undefined, 2, 2), { outcome: 'unknown', forgivenInRow: 0 });
  const timedOut = { at: 0, durationMs: 1000, output: 'timed out after 1s', throttledPercent: 85, limitNanoCpus: 5e8 };
  assert.equal(
    describeResult('exec', { ...timedOut, outcome: 'failure', counted: true }),
    'timed out after 1s; container CPU-throttled 85% of that time (limit 0.5 CPU)',
  );
  assert.equal(
    describeResult('exec', { ...timedOut, outcome: 'unknown', counted: false }),
    'timed out after 1s; container CPU-throttled 85% of that time (limit 0.5 CPU): not counted',
  );
  assert.equal(
    describeResult('http', { ...timedOut, outcome: 'failure', counted: true, code: 500 }).split(';')[0],
    'HTTP 500',
  );
});

test("a container's cpu.stat is found from its process's cgroup lines, v1 or v2", (t) => {
  const root = mkdtempSync(join(tmpdir(), 'warren-cgroup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const put = (dir: string) => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'cpu.stat'), 'nr_periods 1\nnr_throttled 0\n');
  };
  put('cpu,cpuacct/docker/abc');
  const v1 = ['12:cpu,cpuacct:/docker/abc', '4:memory:/docker/abc', '0::/docker/abc'];
  assert.equal(cpuStatPath(v1, root), join(root, 'cpu,cpuacct/docker/abc/cpu.stat'));
  put('system.slice/docker-def.scope');
  assert.equal(
    cpuStatPath(['0::/system.slice/docker-def.scope'], root),
    join(root, 'system.slice/docker-def.scope/cpu.stat'),
  );
  assert.equal(cpuStatPath(['0::/nowhere'], root), null);
});
