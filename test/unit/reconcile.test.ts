import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile, type Action, type NodeView, type Service, type Task } from '@warren/core';

/** A fake world: a clock, sequential ids, and the reconciler's actions applied to it. */
class World {
  now = 1_000_000;
  services: Service[] = [];
  tasks: Task[] = [];
  nodes: NodeView[] = [{ id: 'n1', name: 'node-1', ready: true, images: ['warren-test:latest'] }];
  #next = 0;

  service(name: string, replicas: number, image = 'warren-test:latest'): Service {
    const s: Service = {
      id: `svc-${name}`,
      spec: { name, image, replicas, command: [], env: [], network: 'bridge', stopTimeoutMs: 10_000, health: {} },
      createdAt: this.now,
      updatedAt: this.now,
    };
    this.services = [...this.services.filter((x) => x.id !== s.id), s];
    return s;
  }

  pass(): Action[] {
    const actions = reconcile({ services: this.services, tasks: this.tasks, nodes: this.nodes, now: this.now, newId: () => `t${++this.#next}` });
    for (const a of actions) {
      this.tasks = this.tasks.filter((t) => t.id !== a.task.id);
      if (a.type !== 'delete') this.tasks.push(a.task);
    }
    return actions;
  }

  /** What a worker would report. */
  observe(id: string, change: Partial<Task>): void {
    this.tasks = this.tasks.map((t) => (t.id === id ? { ...t, ...change, updatedAt: this.now } : t));
  }

  live(service = 'svc-web'): Task[] {
    return this.tasks.filter((t) => t.serviceId === service && t.desiredState === 'running').sort((a, b) => a.slot - b.slot);
  }
}

test('one task per slot, assigned at once to a ready node; a second pass changes nothing', () => {
  const w = new World();
  w.service('web', 3);
  const actions = w.pass();
  assert.equal(actions.length, 3);
  assert.ok(actions.every((a) => a.type === 'create' && a.task.state === 'assigned' && a.task.nodeId === 'n1'));
  assert.deepEqual(w.live().map((t) => t.slot), [1, 2, 3]);
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
  assert.ok(w.tasks.some((t) => t.id === first!.id), 'the failed task stays in history');
});

test('complete and rejected tasks are replaced too; a slot never gets two live tasks', () => {
  const w = new World();
  w.service('web', 1);
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
  w.service('web', 1);
  w.pass();
  for (let i = 0; i < 8; i++) {
    w.now += 1000;
    w.observe(w.live()[0]!.id, { state: 'failed', error: `attempt ${i}` });
    w.pass();
  }
  const ended = w.tasks.filter((t) => t.desiredState === 'shutdown');
  assert.equal(ended.length, 5);
  assert.deepEqual(ended.map((t) => t.error).sort(), ['attempt 3', 'attempt 4', 'attempt 5', 'attempt 6', 'attempt 7']);
});

test('scaling down shuts down the highest slots; once stopped their tasks are deleted', () => {
  const w = new World();
  w.service('web', 4);
  w.pass();
  for (const t of w.live()) w.observe(t.id, { state: 'running' });
  w.service('web', 2);
  const actions = w.pass();
  assert.deepEqual(actions.map((a) => [a.type, a.task.slot, a.task.desiredState]), [
    ['update', 3, 'shutdown'],
    ['update', 4, 'shutdown'],
  ]);
  for (const t of w.tasks.filter((t) => t.slot > 2)) w.observe(t.id, { state: 'shutdown' });
  const cleanup = w.pass();
  assert.deepEqual(cleanup.map((a) => [a.type, a.task.slot]), [['delete', 3], ['delete', 4]]);
  assert.deepEqual(w.live().map((t) => t.slot), [1, 2]);
});

test('a removed service: running tasks are told to stop, tasks that never ran end at once, ended tasks are deleted', () => {
  const w = new World();
  w.service('web', 1, 'missing:1');
  w.pass(); // pending: no node has the image
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

test('scheduling spreads a service over nodes, then balances total load, and only uses ready nodes with the image', () => {
  const w = new World();
  w.nodes = [
    { id: 'n1', name: 'a', ready: true, images: ['warren-test:latest'] },
    { id: 'n2', name: 'b', ready: true, images: ['warren-test:latest'] },
    { id: 'n3', name: 'c', ready: false, images: ['warren-test:latest'] },
    { id: 'n4', name: 'd', ready: true, images: [] },
  ];
  w.service('web', 4);
  w.pass();
  const perNode = (id: string) => w.live().filter((t) => t.nodeId === id).length;
  assert.deepEqual([perNode('n1'), perNode('n2'), perNode('n3'), perNode('n4')], [2, 2, 0, 0]);
  w.service('api', 1);
  w.pass();
  assert.ok(['n1', 'n2'].includes(w.live('svc-api')[0]!.nodeId));
});

test('without a suitable node a task waits as pending and says why; it is placed when a node comes', () => {
  const w = new World();
  w.nodes = [{ id: 'n1', name: 'a', ready: true, images: [] }];
  w.service('web', 1);
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
