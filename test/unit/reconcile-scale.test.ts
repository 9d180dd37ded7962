import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTerminal, reconcile, type NodeView, type ReconcileInput, type Task } from '@warren/core';
import { ALL, PassScope } from '@warren/manager';
import { World } from '../helpers/reconcile-world.js';

/** The placement rule as written, node by node: fewest tasks of the service, then fewest in all, then name. */
function placeByRule(input: ReconcileInput, pending: Task[]): Map<string, string> {
  const load = new Map<string, number>(input.loadElsewhere ?? []);
  const own = new Map<string, number>();
  for (const t of input.tasks)
    if (t.nodeId !== '' && t.desiredState === 'running' && !isTerminal(t.state)) {
      load.set(t.nodeId, (load.get(t.nodeId) ?? 0) + 1);
      own.set(`${t.nodeId}/${t.serviceId}`, (own.get(`${t.nodeId}/${t.serviceId}`) ?? 0) + 1);
    }
  const placed = new Map<string, string>();
  for (const task of [...pending].sort((a, b) => a.slot - b.slot)) {
    let best: NodeView | undefined;
    const key = (n: NodeView) => [own.get(`${n.id}/${task.serviceId}`) ?? 0, load.get(n.id) ?? 0, n.name] as const;
    for (const n of input.nodes) {
      if (!n.ready || n.images.length === 0) continue;
      const [a, b] = [key(n), best && key(best)];
      if (!b || a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])))) best = n;
    }
    placed.set(task.id, best!.id);
    load.set(best!.id, (load.get(best!.id) ?? 0) + 1);
    own.set(`${best!.id}/${task.serviceId}`, (own.get(`${best!.id}/${task.serviceId}`) ?? 0) + 1);
  }
  return placed;
}

test('placement through per-kind heaps picks the node the rule names, task by task, with uneven loads', () => {
  const w = new World();
  w.nodes = Array.from({ length: 40 }, (_, i) => ({
    id: `n${i}`,
    name: `node-${String(i).padStart(2, '0')}`,
    ready: i % 7 !== 3,
    images: i % 11 === 5 ? [] : ['warren-test:latest'],
  }));
  // Uneven loads: a service already spread unevenly, and other services' tasks elsewhere.
  w.service('old', 23, 'warren-test:latest', { pull: 'never' });
  w.pass();
  const loadElsewhere = new Map(w.nodes.map((n, i) => [n.id, (i * 7919) % 5]));
  for (const name of ['a', 'b', 'c']) w.service(name, 37, 'warren-test:latest', { pull: 'never' });
  const input: ReconcileInput = {
    services: w.services,
    tasks: w.tasks,
    nodes: w.nodes,
    now: w.now,
    newId: (() => {
      let n = 0;
      return () => `x${++n}`;
    })(),
    loadElsewhere,
  };
  const plan = reconcile(input);
  const created = plan.actions.filter((a) => a.type === 'create').map((a) => a.task);
  assert.equal(created.length, 3 * 37);
  const expected = placeByRule(
    input,
    created.map((t) => ({ ...t, nodeId: '' })),
  );
  for (const task of created) assert.equal(task.nodeId, expected.get(task.id), `task ${task.id} (slot ${task.slot})`);
});

test('a pass over one service decides as a pass over everything would, other services weighed by their load', () => {
  const w = new World();
  w.nodes = ['a', 'b', 'c'].map((x) => ({ id: x, name: `node-${x}`, ready: true, images: ['warren-test:latest'] }));
  w.service('steady', 5);
  w.pass();
  for (const t of w.live()) w.run(t.id);
  w.service('new', 4);
  const whole = w.pass();
  // The same decision, given only the new service and the steady one's load per node.
  const steady = w.tasks.filter((t) => t.serviceId === 'svc-steady');
  const load = new Map<string, number>();
  for (const t of steady) load.set(t.nodeId, (load.get(t.nodeId) ?? 0) + 1);
  let n = 0;
  const ids = new Map(whole.map((a) => [`t${++n + steady.length}`, a.task.id]));
  n = steady.length;
  const part = reconcile({
    services: w.services.filter((s) => s.id === 'svc-new'),
    tasks: [],
    nodes: w.nodes,
    now: w.now,
    newId: () => `t${++n}`,
    loadElsewhere: load,
  });
  assert.deepEqual(
    part.actions.map((a) => [ids.get(a.task.id), a.task.slot, a.task.nodeId]),
    whole.map((a) => [a.task.id, a.task.slot, a.task.nodeId]),
  );
  assert.ok(
    whole.every((a) => a.task.serviceId === 'svc-new'),
    'the steady service had nothing to do',
  );
});

test('pass scope: a change looks at its service; a node change at all; health records alone at none; wake-ups by service', () => {
  const scope = new PassScope();
  assert.equal(scope.take(0), ALL, 'the first pass looks at everything');
  assert.deepEqual([...(scope.take(0) as Set<string>)], []);
  const task = { serviceId: 's1' } as Task;
  assert.equal(
    scope.note([{ kind: 'putHealth', taskId: 't', phase: 'liveness', record: {} as never, added: 1 }]),
    false,
  );
  assert.equal(scope.note([{ kind: 'putTask', task }]), true);
  assert.equal(scope.note([{ kind: 'deleteSlot', serviceId: 's2', slot: 1 }]), true);
  const event = {
    type: 'health-transition' as const,
    serviceId: 's3',
    service: 'x',
    taskId: 't',
    slot: 1,
    nodeId: 'n',
    reason: '',
  };
  assert.equal(scope.note([{ kind: 'event', event }]), true);
  assert.deepEqual([...(scope.take(0) as Set<string>)].sort(), ['s1', 's2', 's3']);
  assert.deepEqual([...(scope.take(0) as Set<string>)], [], 'taken once');

  scope.settle(new Set(['s1', 's2']), new Map([['s1', 500]]));
  scope.settle(new Set(['s3']), new Map([['s3', 300]]));
  assert.equal(scope.nextWake(), 300);
  assert.deepEqual([...(scope.take(299) as Set<string>)], []);
  assert.deepEqual([...(scope.take(300) as Set<string>)], ['s3']);
  scope.settle(new Set(['s3']), new Map());
  assert.equal(scope.nextWake(), 500, 's3 asked for nothing more');

  scope.note([{ kind: 'putNode', node: {} as never }]);
  assert.equal(scope.take(0), ALL);
  scope.settle(ALL, new Map([['s9', 900]]));
  assert.equal(scope.nextWake(), 900, 'a pass over everything replaces every wake-up');
});
