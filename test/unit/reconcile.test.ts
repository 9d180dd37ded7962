import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTART_DEFAULTS } from '@warren/core';
import { World } from '../helpers/reconcile-world.js';

test('one task per slot, assigned at once to a ready node; a second pass changes nothing', () => {
  const w = new World();
  w.service('web', 3);
  const actions = w.pass();
  assert.equal(actions.length, 3);
  assert.ok(actions.every((a) => a.type === 'create' && a.task.state === 'assigned' && a.task.nodeId === 'n1'));
  assert.deepEqual(
    w.live().map((t) => t.slot),
    [1, 2, 3],
  );
  assert.deepEqual(w.pass(), []);
});

test('a failed task is replaced in its slot in the same pass, and kept as history', () => {
  const w = new World();
  w.service('web', 2);
  w.pass();
  const [first] = w.live();
  w.now += 5000;
  w.observe(first!.id, { state: 'failed', error: 'container exited with code 137', exitCode: 137 });
  const actions = w.pass();
  const ended = actions.find((a) => a.task.id === first!.id);
  const created = actions.find((a) => a.type === 'create');
  assert.equal(ended?.type, 'update');
  assert.equal(ended?.task.desiredState, 'shutdown');
  assert.equal(ended?.task.error, 'container exited with code 137');
  assert.equal(created?.task.slot, first!.slot);
  assert.equal(created?.task.createdAt, w.now);
  assert.equal(w.live().length, 2);
  assert.ok(
    w.tasks.some((t) => t.id === first!.id),
    'the failed task stays in history',
  );
});

test('complete and rejected tasks are replaced too; a slot never gets two live tasks', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 0 } });
  w.pass();
  w.observe(w.live()[0]!.id, { state: 'complete', exitCode: 0 });
  w.pass();
  w.observe(w.live()[0]!.id, { state: 'rejected', error: 'No such image' });
  w.pass();
  assert.equal(w.live().length, 1);
  assert.equal(w.live()[0]!.state, 'assigned');
  assert.equal(w.tasks.length, 3);
});

test('history keeps the newest ended tasks of a slot, five by default', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 0 } });
  w.pass();
  for (let i = 0; i < 8; i++) {
    w.now += 1000;
    w.observe(w.live()[0]!.id, { state: 'failed', error: `attempt ${i}` });
    w.pass();
  }
  const ended = w.tasks.filter((t) => t.desiredState === 'shutdown');
  assert.equal(ended.length, 5);
  assert.deepEqual(ended.map((t) => t.error).sort(), [
    'attempt 3',
    'attempt 4',
    'attempt 5',
    'attempt 6',
    'attempt 7',
  ]);
});

test('scaling down shuts down the highest slots; once stopped their tasks are deleted', () => {
  const w = new World();
  w.service('web', 4);
  w.pass();
  for (const t of w.live()) w.observe(t.id, { state: 'running' });
  w.service('web', 2);
  const actions = w.pass();
  assert.deepEqual(
    actions.map((a) => [a.type, a.task.slot, a.task.desiredState]),
    [
      ['update', 3, 'shutdown'],
      ['update', 4, 'shutdown'],
    ],
  );
  for (const t of w.tasks.filter((t) => t.slot > 2)) w.observe(t.id, { state: 'shutdown' });
  const cleanup = w.pass();
  assert.deepEqual(
    cleanup.map((a) => [a.type, a.task.slot]),
    [
      ['delete', 3],
      ['delete', 4],
    ],
  );
  assert.deepEqual(
    w.live().map((t) => t.slot),
    [1, 2],
  );
});

test('a removed service: running tasks are told to stop, tasks that never ran end at once, ended tasks are deleted', () => {
  const w = new World();
  w.service('web', 1, 'missing:1', { pull: 'never' });
  w.pass(); // pending: no node has the image, and it may not be pulled
  w.service('api', 1);
  w.pass();
  w.observe(w.live('svc-api')[0]!.id, { state: 'running' });
  w.services = [];
  const actions = w.pass();
  const web = actions.find((a) => a.task.serviceId === 'svc-web');
  const api = actions.find((a) => a.task.serviceId === 'svc-api');
  assert.equal(web?.task.state, 'shutdown');
  assert.equal(api?.task.state, 'running');
  assert.equal(api?.task.desiredState, 'shutdown');
  w.observe(api!.task.id, { state: 'shutdown' });
  w.pass();
  assert.deepEqual(w.tasks, []);
});

test('scheduling spreads a service over nodes, then balances total load; with --pull never only nodes with the image', () => {
  const w = new World();
  w.nodes = [
    { id: 'n1', name: 'a', ready: true, images: ['warren-test:latest'] },
    { id: 'n2', name: 'b', ready: true, images: ['warren-test:latest'] },
    { id: 'n3', name: 'c', ready: false, images: ['warren-test:latest'] },
    { id: 'n4', name: 'd', ready: true, images: [] },
  ];
  w.service('web', 4, 'warren-test:latest', { pull: 'never' });
  w.pass();
  const perNode = (id: string, service = 'svc-web') => w.live(service).filter((t) => t.nodeId === id).length;
  assert.deepEqual([perNode('n1'), perNode('n2'), perNode('n3'), perNode('n4')], [2, 2, 0, 0]);
  w.service('api', 1, 'warren-test:latest', { pull: 'never' });
  w.pass();
  assert.ok(['n1', 'n2'].includes(w.live('svc-api')[0]!.nodeId));
  // A node that may pull the image takes tasks too: the least loaded first.
  w.service('pulled', 3);
  w.pass();
  assert.deepEqual([perNode('n1', 'svc-pulled'), perNode('n2', 'svc-pulled'), perNode('n4', 'svc-pulled')], [1, 1, 1]);
});

test('without a suitable node a task waits as pending and says why; it is placed when a node comes', () => {
  const w = new World();
  w.nodes = [{ id: 'n1', name: 'a', ready: true, images: [] }];
  w.service('web', 1, 'warren-test:latest', { pull: 'never' });
  w.pass();
  assert.equal(w.live()[0]!.state, 'pending');
  assert.equal(w.live()[0]!.message, 'no ready node has image warren-test:latest');
  assert.deepEqual(w.pass(), [], 'no churn while waiting');
  w.nodes = [{ id: 'n1', name: 'a', ready: true, images: ['warren-test:latest'] }];
  w.pass();
  assert.equal(w.live()[0]!.state, 'assigned');
});

test('a task vanished from a slot (deleted behind our back) is recreated', () => {
  const w = new World();
  w.service('web', 2);
  w.pass();
  w.tasks = w.tasks.filter((t) => t.slot !== 2);
  const actions = w.pass();
  assert.equal(actions.length, 1);
  assert.equal(actions[0]!.task.slot, 2);
});

test('backoff: the first replacement of a slot is immediate, then delays double up to the maximum', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 1000, maxDelayMs: 3000 } });
  w.pass();
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const failedAt = w.now;
    w.observe(w.live()[0]!.id, { state: 'failed', error: 'boom' });
    w.pass();
    while (w.live().length === 0) {
      assert.equal(w.lastPlan!.wakeAt, w.slot(1)!.nextAttemptAt, 'the loop is told when to come back');
      w.now += 100;
      w.pass();
    }
    delays.push(w.now - failedAt);
    w.now += 10;
  }
  assert.deepEqual(delays, [0, 1000, 2000, 3000, 3000]);
  assert.equal(w.slot(1)!.failures, 5);
  const delayed = w.events.filter((e) => e.type === 'replacement-delayed');
  assert.deepEqual(
    delayed.map((e) => e.data?.delayMs),
    [1000, 2000, 3000, 3000],
  );
  assert.equal(w.types().filter((t) => t === 'task-replaced').length, 5);
});

test('a slot healthy for the restart window is forgiven: the next failure is replaced at once', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 1000, windowMs: 60_000 } });
  w.pass();
  w.observe(w.live()[0]!.id, { state: 'failed' });
  w.pass();
  w.observe(w.live()[0]!.id, { state: 'failed' });
  w.pass();
  assert.equal(w.slot(1)!.failures, 2);
  w.now += 1000;
  w.pass();
  const task = w.live()[0]!;
  w.run(task.id);
  w.pass();
  assert.equal(w.lastPlan!.wakeAt, w.now + 60_000, 'woken when the window ends');
  w.now += 59_999;
  w.pass();
  assert.equal(w.slot(1)!.failures, 2, 'not yet');
  w.now += 1;
  w.pass();
  assert.equal(w.slot(1)!.failures, 0);
  assert.ok(w.types().includes('backoff-reset'));
  w.observe(task.id, { state: 'failed' });
  w.pass();
  assert.equal(w.live().length, 1, 'replaced at once again');
});

test('with checks, forgiveness counts from when the task turned healthy, not from its start', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', {
    restart: { ...RESTART_DEFAULTS, windowMs: 10_000 },
    health: {
      check: {
        handler: { kind: 'tcp', port: 1 },
        intervalMs: 1000,
        timeoutMs: 1000,
        retries: 1,
        successThreshold: 1,
        startPeriodMs: 0,
      },
    },
  });
  w.pass();
  w.observe(w.live()[0]!.id, { state: 'failed' });
  w.pass();
  const task = w.live()[0]!;
  w.run(task.id);
  w.health.set(task.id, { status: 'starting' });
  w.now += 20_000;
  w.pass();
  assert.equal(w.slot(1)!.failures, 1, 'running but not yet healthy: no forgiveness');
  w.healthy(task.id);
  w.now += 10_000;
  w.pass();
  assert.equal(w.slot(1)!.failures, 0);
});

test('--restart-max-attempts: after that many replacements in a row the slot gives up', () => {
  const w = new World();
  w.service('web', 1, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 0, maxAttempts: 2 } });
  w.pass();
  for (let i = 0; i < 3; i++) {
    w.observe(w.live()[0]!.id, { state: 'failed' });
    w.pass();
  }
  assert.equal(w.live().length, 0);
  assert.equal(w.slot(1)!.gaveUp, true);
  assert.equal(w.types().filter((t) => t === 'restart-limit-reached').length, 1);
  w.now += 3_600_000;
  w.pass();
  assert.equal(w.live().length, 0, 'it stays given up');
});

test('a task whose liveness turned unhealthy is failed and replaced in its slot, in the same pass', () => {
  const w = new World();
  w.service('web', 3);
  w.pass();
  for (const t of w.live()) w.run(t.id);
  const victim = w.live()[1]!;
  w.unhealthy(victim.id);
  const actions = w.pass();
  const failed = actions.find((a) => a.task.id === victim.id)!.task;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.desiredState, 'shutdown');
  assert.equal(failed.error, 'liveness probe failed: HTTP 500');
  const created = actions.find((a) => a.type === 'create')!.task;
  assert.equal(created.slot, victim.slot);
  assert.equal(created.replacing, true, 'counts against the budget until healthy');
  assert.deepEqual(w.types().slice(-2), ['task-failed', 'task-replaced']);
});

test('the replacement budget: at most a third of the replicas are replaced for health at once; the rest are held, not killed', () => {
  const w = new World();
  w.service('web', 6);
  w.pass();
  for (const t of w.live()) w.run(t.id);
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  const replacing = () => w.live().filter((t) => t.replacing && w.health.get(t.id)?.status !== 'healthy');
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 2);
  assert.equal(replacing().length, 2);
  assert.equal(w.live().filter((t) => t.held && t.state === 'running').length, 4, 'four keep running, held');
  assert.equal(w.types().filter((t) => t === 'replacement-held').length, 4);
  assert.ok(w.types().includes('correlated-failure'));
  assert.match(
    w.events.find((e) => e.type === 'correlated-failure')!.reason,
    /6 of 6 tasks .* shared dependency may be down; 4 replacements held back/,
  );

  // Nothing more while the replacements are not healthy, however often the loop runs.
  w.now += 5000;
  w.pass();
  w.pass();
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 2);
  assert.equal(w.types().filter((t) => t === 'replacement-held').length, 4, 'held is said once per task');

  // A replacement that fails its own checks goes (it holds its own place), nothing else does.
  const [bad] = replacing();
  w.run(bad!.id);
  w.unhealthy(bad!.id);
  w.pass();
  assert.equal(w.tasks.find((t) => t.id === bad!.id)!.state, 'failed');
  assert.equal(w.live().filter((t) => t.held).length, 4, 'the held originals stay');
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 3);
  w.now += 60_000; // past the slot's backoff
  w.pass();

  // One replacement turns healthy: one more held task may go.
  const [first] = replacing();
  w.run(first!.id);
  w.healthy(first!.id);
  w.pass();
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 4);
  assert.equal(replacing().length, 2);

  // The shared dependency comes back: held tasks recover and are released, nothing else dies.
  for (const t of w.live()) w.healthy(t.id);
  w.pass();
  assert.equal(w.live().filter((t) => t.held).length, 0);
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 4);
  assert.ok(w.types().includes('correlated-failure-cleared'));
});

test('a replacement that cannot start keeps its slot counted; --max-replacing overrides the default', () => {
  const w = new World();
  w.service('web', 4, 'warren-test:latest', { maxReplacing: 2, restart: { ...RESTART_DEFAULTS, delayMs: 0 } });
  w.pass();
  for (const t of w.live()) w.run(t.id);
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 2);
  const replacement = w.live().find((t) => t.replacing)!;
  w.observe(replacement.id, { state: 'rejected', error: 'registry unreachable: …' });
  w.pass();
  assert.equal(
    w.tasks.filter((t) => t.state === 'failed').length,
    2,
    'its slot is still without a task: none released',
  );
  assert.equal(w.live().filter((t) => t.held).length, 2);
  // Its next replacement runs and turns healthy: now a held task may go.
  const next = w.live().find((t) => t.slot === replacement.slot && t.id !== replacement.id)!;
  w.run(next.id);
  w.healthy(next.id);
  w.pass();
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 3, 'a held task was released');
});

test('tasks without health checks are never failed for health and the budget does not apply to crashes', () => {
  const w = new World();
  w.service('web', 3, 'warren-test:latest', { restart: { ...RESTART_DEFAULTS, delayMs: 0 } });
  w.pass();
  for (const t of w.live()) w.run(t.id);
  for (const t of w.live()) w.observe(t.id, { state: 'failed', error: 'container exited with code 1' });
  w.pass();
  assert.equal(w.live().length, 3, 'all three crashed tasks replaced at once');
  assert.ok(!w.types().includes('replacement-held'));
});

test('tasks of a down node are orphaned and replaced on another node at once, with no backoff counted', () => {
  const w = new World();
  w.nodes = [
    { id: 'n1', name: 'a', ready: true, images: ['warren-test:latest'] },
    { id: 'n2', name: 'b', ready: true, images: ['warren-test:latest'] },
  ];
  w.service('web', 2);
  w.pass();
  for (const t of w.live()) w.run(t.id);
  const onA = w.live().find((t) => t.nodeId === 'n1')!;
  w.nodes = [{ ...w.nodes[0]!, ready: false, down: true }, w.nodes[1]!];
  w.pass();
  const orphan = w.tasks.find((t) => t.id === onA.id)!;
  assert.equal(orphan.state, 'orphaned');
  assert.equal(orphan.desiredState, 'shutdown');
  assert.equal(orphan.error, 'node a is down');
  const successor = w.live().find((t) => t.slot === onA.slot)!;
  assert.equal(successor.nodeId, 'n2');
  assert.equal(w.slot(onA.slot)?.failures ?? 0, 0, "not the task's fault: no failure counted");
  assert.deepEqual(w.types().slice(-2), ['task-orphaned', 'task-replaced']);
});

test('a task of a down node that no other node can take is kept, so the node carries on if it returns', () => {
  const w = new World();
  w.service('web', 1);
  w.pass();
  w.run(w.live()[0]!.id);
  w.nodes = [{ ...w.nodes[0]!, ready: false, down: true }];
  w.pass();
  assert.equal(w.live()[0]!.state, 'running');
  assert.equal(w.live()[0]!.message, 'node node-1 is down; no other node can take it');
  assert.ok(!w.types().includes('task-orphaned'));
});

test('drain: a successor starts elsewhere first; the old task stops only once its successor runs (and is healthy)', () => {
  const w = new World();
  w.nodes = [
    { id: 'n1', name: 'a', ready: true, images: ['warren-test:latest'] },
    { id: 'n2', name: 'b', ready: true, images: ['warren-test:latest'] },
  ];
  w.service('web', 2, 'warren-test:latest', {
    health: {
      check: {
        handler: { kind: 'tcp', port: 1 },
        intervalMs: 1000,
        timeoutMs: 1000,
        retries: 1,
        successThreshold: 1,
        startPeriodMs: 0,
      },
    },
  });
  w.pass();
  for (const t of w.live()) {
    w.run(t.id);
    w.healthy(t.id);
  }
  const onA = w.live().find((t) => t.nodeId === 'n1')!;
  w.nodes = [{ ...w.nodes[0]!, availability: 'drain' }, w.nodes[1]!];
  w.pass();
  const both = w.live().filter((t) => t.slot === onA.slot);
  assert.equal(both.length, 2, 'old and successor side by side');
  const successor = both.find((t) => t.id !== onA.id)!;
  assert.equal(successor.nodeId, 'n2');
  w.pass();
  assert.equal(w.live().filter((t) => t.slot === onA.slot).length, 2, 'nothing stops before the successor runs');
  w.run(successor.id);
  w.health.set(successor.id, { status: 'starting' });
  w.pass();
  assert.equal(w.live().filter((t) => t.slot === onA.slot).length, 2, 'nor before it is healthy');
  w.healthy(successor.id);
  w.pass();
  assert.deepEqual(
    w
      .live()
      .filter((t) => t.slot === onA.slot)
      .map((t) => t.id),
    [successor.id],
  );
  assert.ok(w.types().includes('task-drained'));
  assert.ok(w.live().every((t) => t.nodeId === 'n2'));
});

test('no health verdict is acted on for a node whose worker cannot reach its engine', () => {
  const w = new World();
  w.service('web', 3);
  w.pass();
  for (const t of w.live()) {
    w.run(t.id);
    w.unhealthy(t.id);
  }
  w.nodes = [{ ...w.nodes[0]!, engineTrouble: true }];
  w.pass();
  assert.equal(w.tasks.filter((t) => t.state === 'failed').length, 0);
  assert.ok(!w.types().includes('replacement-held'));
  w.nodes = [{ ...w.nodes[0]!, engineTrouble: false }];
  w.pass();
  assert.equal(
    w.tasks.filter((t) => t.state === 'failed').length,
    1,
    'once it answers again, verdicts count (within the budget)',
  );
});

test('nothing is placed on a node whose engine does not answer', () => {
  const w = new World();
  w.nodes = [{ id: 'n1', name: 'a', ready: true, engineTrouble: true, images: ['warren-test:latest'] }];
  w.service('web', 1);
  w.pass();
  assert.equal(w.live()[0]!.state, 'pending');
  w.nodes = [{ ...w.nodes[0]!, engineTrouble: false }];
  w.pass();
  assert.equal(w.live()[0]!.state, 'assigned');
});
