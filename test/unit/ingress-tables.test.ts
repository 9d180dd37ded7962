/**
 * The manager's ingress table and its drains, on a real store, with a fake clock and fake
 * worker streams: what goes in the table, whom a drain waits for, and what a restart keeps.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Service, Task } from '@warren/core';
import { bindErrorFromWire, IngressTables, NodeSessions, TaskDispatch, type NodeRecord } from '@warren/manager';
import type { wire } from '@warren/api';
import { testSpec } from '../helpers/spec.js';
import { tempStore } from '../helpers/temp-store.js';

const logger = pino({ level: 'silent' });

const spec = testSpec({ replicas: 2, ports: [{ published: 8080, target: 80, protocol: 'tcp' }] });
const service: Service = { id: 's1', spec, createdAt: 1, updatedAt: 1 };
const node = (id: string): NodeRecord => ({
  id,
  name: id,
  hostname: id,
  registeredAt: 1,
  lastSeenAt: 1,
  images: [],
  availability: 'active',
  status: 'ready',
  history: [],
});
const task = (id: string, nodeId: string, over: Partial<Task> = {}): Task => ({
  id,
  serviceId: 's1',
  serviceName: 'web',
  slot: Number(id.slice(1)),
  nodeId,
  desiredState: 'running',
  state: 'running',
  message: '',
  error: '',
  containerId: `c-${id}`,
  address: `172.17.0.${id.slice(1)}`,
  ports: [{ target: 80, address: `10.0.0.${nodeId.slice(1)}:3000${id.slice(1)}` }],
  startedAt: 1,
  replacing: false,
  held: false,
  createdAt: 1,
  updatedAt: 1,
  spec,
  ...over,
});

/** A worker's assignment stream: what it was sent. */
function stream() {
  const sent: wire.AssignmentsMessage[] = [];
  return { sent, write: (m: wire.AssignmentsMessage) => sent.push(m), end: () => undefined };
}

async function world(t: TestContext, graceMs = 0) {
  const store = await tempStore(t, 'ingress');
  let clock = 1_000_000;
  const now = () => clock;
  const sessions = new NodeSessions(now, 1000, 3);
  const ingress = new IngressTables(store, sessions, now, logger, now() + graceMs);
  const dispatch = new TaskDispatch(store, sessions, ingress, 2000, logger);
  await store.mutate(() => ({
    changes: [
      { kind: 'putService', service },
      { kind: 'putNode', node: node('n1') },
      { kind: 'putNode', node: node('n2') },
      { kind: 'putTask', task: task('t1', 'n1') },
      { kind: 'putTask', task: task('t2', 'n2') },
    ],
    result: undefined,
  }));
  const streams = { n1: stream(), n2: stream() };
  const connect = (id: 'n1' | 'n2') => {
    sessions.attach(id, streams[id] as never);
    sessions.heartbeat(id);
  };
  const endpoints = () => ingress.table.services?.[0]?.ports?.[0]?.endpoints?.map((e) => e.address) ?? [];
  return { store, sessions, ingress, dispatch, streams, connect, endpoints, tick: (ms: number) => (clock += ms) };
}

test('the table lists running tasks of nodes that are up, and a new version goes to every worker', async (t) => {
  const w = await world(t);
  w.connect('n1');
  w.connect('n2');
  const v1 = w.ingress.recompute();
  assert.deepEqual(w.endpoints(), ['10.0.0.1:30001', '10.0.0.2:30002']);
  assert.equal(w.ingress.recompute(), v1, 'nothing changed, no new version');
  w.tick(5000); // n2 stops heartbeating; n1 beats on
  w.sessions.heartbeat('n1');
  const v2 = w.ingress.recompute();
  assert.ok(v2 > v1);
  assert.deepEqual(w.endpoints(), ['10.0.0.1:30001']);
  assert.equal(w.streams.n1.sent.at(-1)?.ingress?.version, v2);
});

test('after a manager restart, nodes the store has as ready keep their endpoints until the grace ends', async (t) => {
  const w = await world(t, 3000);
  w.connect('n1'); // n2 has not reconnected yet
  w.ingress.recompute();
  assert.deepEqual(w.endpoints(), ['10.0.0.1:30001', '10.0.0.2:30002']);
  w.tick(3001);
  w.sessions.heartbeat('n1');
  w.ingress.recompute();
  assert.deepEqual(w.endpoints(), ['10.0.0.1:30001']);
});

test('a drain waits for every ready node to confirm, not for one that stopped heartbeating', async (t) => {
  const w = await world(t);
  w.connect('n1');
  w.connect('n2');
  const version = w.ingress.recompute();
  const confirmed = w.ingress.confirmed(version, 60_000);
  let done = false;
  void confirmed.then(() => (done = true));
  w.ingress.ack('n1', version, []);
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'n2 has not confirmed');
  w.tick(5000); // n2 is cut off: its stream is still open, its heartbeats stopped
  w.sessions.heartbeat('n1');
  w.ingress.nodeChanged();
  assert.equal(await confirmed, true);
});

test('a published task told to stop is held back until the proxies confirm; then its worker hears of it', async (t) => {
  const w = await world(t);
  w.connect('n1');
  w.connect('n2');
  const before = w.ingress.recompute();
  w.store.onCommit((changes) => w.dispatch.push(changes));
  const stopping = task('t2', 'n2', { desiredState: 'shutdown' });
  await w.store.mutate(() => ({ changes: [{ kind: 'putTask', task: stopping }], result: undefined }));
  assert.ok(w.ingress.version > before, 'a new table without t2');
  assert.deepEqual(w.endpoints(), ['10.0.0.1:30001']);
  const toN2 = () => w.streams.n2.sent.filter((m) => m.tasks?.some((x) => x.id === 't2'));
  assert.equal(toN2().length, 0, 'the stop waits');
  assert.equal(w.dispatch.view(stopping).desiredState, 'running', 'a reconnecting worker still runs it');
  w.ingress.ack('n1', w.ingress.version, []);
  w.ingress.ack('n2', w.ingress.version, []);
  await new Promise((r) => setImmediate(r));
  assert.equal(toN2().length, 1);
  assert.equal(toN2()[0]!.tasks![0]!.desiredState, 'shutdown');
  assert.equal(w.dispatch.drains.confirmed, 1);
});

test('stops decided before a restart drain again once the workers had time to come back', async (t) => {
  const w = await world(t);
  await w.store.mutate(() => ({
    changes: [{ kind: 'putTask', task: task('t2', 'n2', { desiredState: 'shutdown' }) }],
    result: undefined,
  }));
  w.dispatch.resume(50);
  assert.equal(w.dispatch.view(w.store.task('t2')!).desiredState, 'running');
  w.connect('n2');
  await new Promise((r) => setTimeout(r, 100));
  w.ingress.ack('n2', w.ingress.version, []);
  await new Promise((r) => setImmediate(r));
  const toN2 = w.streams.n2.sent.filter((m) => m.tasks?.some((x) => x.id === 't2'));
  assert.equal(toN2.at(-1)?.tasks?.[0]?.desiredState, 'shutdown');
});

test("a worker's own report is not sent back to it; a change the manager made is", async (t) => {
  const w = await world(t);
  w.connect('n1');
  w.store.onCommit((changes) => w.dispatch.push(changes));
  const toN1 = () => w.streams.n1.sent.filter((m) => m.tasks?.some((x) => x.id === 't1'));
  const reported = task('t1', 'n1', { message: 'still running', updatedAt: 2 });
  await w.store.mutate(() => ({ changes: [{ kind: 'putTask', task: reported, reported: true }], result: undefined }));
  assert.equal(toN1().length, 0, 'n1 told it: nothing to hear back');
  const held = task('t1', 'n1', { held: true, message: 'held by the replacement budget', updatedAt: 3 });
  await w.store.mutate(() => ({ changes: [{ kind: 'putTask', task: held }], result: undefined }));
  assert.equal(toN1().length, 1);
  assert.equal(toN1()[0]!.tasks![0]!.message, 'held by the replacement budget');
});

test("a node's ports it cannot listen on: a service sees its published ports' and its name's, no other's", async (t) => {
  const w = await world(t);
  w.connect('n1');
  w.connect('n2');
  const version = w.ingress.recompute();
  const error = 'cannot listen on 198.18.0.7:5432: address already in use';
  w.ingress.ack('n1', version, [
    { published: 8080, error: 'cannot listen on 127.0.0.2:8080: address already in use' },
    { published: 0, namePort: 5432, serviceId: 's1', error },
    { published: 0, namePort: 6379, serviceId: 'another', error: 'cannot listen on 198.18.0.8:6379: …' },
  ]);
  w.ingress.ack('n2', version, [{ published: 9090, error: 'not ours' }]);
  assert.deepEqual(w.ingress.problems(service), [
    {
      nodeId: 'n1',
      nodeName: 'n1',
      published: 8080,
      namePort: 0,
      error: 'cannot listen on 127.0.0.2:8080: address already in use',
    },
    { nodeId: 'n1', nodeName: 'n1', published: 0, namePort: 5432, error },
  ]);
  w.ingress.ack('n1', version, []);
  assert.deepEqual(w.ingress.problems(service), [], 'listening again');
});

test("a worker's bind errors from the wire: ports and the service checked, the reason bounded", () => {
  const e = (over: Partial<wire.IngressBindErrorOut>) => ({
    published: 0,
    error: 'in use',
    namePort: 0,
    serviceId: '',
    ...over,
  });
  assert.deepEqual(bindErrorFromWire(e({ published: 8080 })), { published: 8080, error: 'in use' });
  assert.deepEqual(bindErrorFromWire(e({ namePort: 80, serviceId: 's1', error: 'x'.repeat(1000) })), {
    published: 0,
    namePort: 80,
    serviceId: 's1',
    error: 'x'.repeat(300),
  });
  assert.throws(() => bindErrorFromWire(e({ published: 70_000 })), /bind_errors\.published.*not a port/);
  assert.throws(() => bindErrorFromWire(e({ published: -1 })), /bind_errors\.published/);
  assert.throws(() => bindErrorFromWire(e({ serviceId: 's1' })), /bind_errors\.name_port.*not a port/);
  assert.throws(() => bindErrorFromWire(e({ namePort: 80 })), /bind_errors\.service_id/);
});
