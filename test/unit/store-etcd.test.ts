/**
 * The store on etcd (DESIGN 9), against a real etcd member: the same state as LevelDB, every
 * write fenced by the leadership key, health runs coalesced, large writes split, and a follower
 * that sees what the leader wrote as the leader's own listeners did.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import { RESULTS_KEPT, type PhaseRecord, type ProbeResult, type Service, type Task } from '@warren/core';
import { EtcdBackend, FencedError, MAX_TXN_OPS, Store, type Change, type Fence } from '@warren/manager';
import { EtcdCluster } from '../helpers/etcd.js';
import { testSpec } from '../helpers/spec.js';

let etcd: EtcdCluster;
let client: Etcd3;
let prefix = 0;
before(async () => {
  etcd = await EtcdCluster.start(1);
  client = new Etcd3({ hosts: etcd.endpoints });
});
after(async () => {
  client?.close();
  await etcd?.stop();
});

const logger = pino({ level: 'silent' });
const service = (id: string, name: string): Service => ({ id, spec: testSpec({ name }), createdAt: 1, updatedAt: 1 });
const task = (id: string, serviceId: string, slot: number): Task => ({
  ...{ id, serviceId, serviceName: 'web', slot, nodeId: 'n1', desiredState: 'running', state: 'running' },
  ...{ message: '', error: '', containerId: `c-${id}`, address: '', startedAt: 1, replacing: false, held: false },
  ...{ createdAt: 1, updatedAt: 1, spec: testSpec() },
});
const result = (at: number): ProbeResult => ({ at, durationMs: 1, outcome: 'success', output: '', counted: true });
const record = (results: ProbeResult[], status: PhaseRecord['status'] = 'healthy'): PhaseRecord => ({
  ...{ status, successStreak: results.length, failureStreak: 0, everSucceeded: true },
  ...{ lastTransitionAt: 1, lastTransitionFrom: 'starting', results },
});

/** A backend under its own prefix, leading: a leadership key of its own and the fence on it. */
async function leading(): Promise<{ backend: EtcdBackend; fence: Fence; prefix: string }> {
  const p = `test${++prefix}/`;
  const key = `${p}leader`;
  const put = await client.put(key).value('me').exec();
  const fence = { key, revision: String(put.header.revision) };
  const backend = new EtcdBackend(client, p, logger);
  backend.setFence(fence);
  return { backend, fence, prefix: p };
}

test('the state written through etcd loads back the same, events and health included', async () => {
  const { backend, prefix: p } = await leading();
  const store = await Store.load(backend);
  await store.mutate(() => ({
    changes: [
      { kind: 'putService', service: service('s1', 'web') },
      { kind: 'putTask', task: task('t1', 's1', 1) },
      { kind: 'putHealth', taskId: 't1', phase: 'liveness', record: record([result(1), result(2)]), added: 2 },
      { kind: 'event', event: { type: 'service-created', serviceId: 's1', service: 'web', reason: 'made' } },
    ],
    result: undefined,
  }));
  await store.close();
  const again = await Store.load(new EtcdBackend(client, p, logger));
  assert.equal(again.serviceByName('web')?.id, 's1');
  assert.equal(again.task('t1')?.slot, 1);
  assert.deepEqual(
    again.health('t1').liveness?.results.map((r) => r.at),
    [1, 2],
  );
  assert.deepEqual(
    again.events().map((e) => e.reason),
    ['made'],
  );
});

test('a write without the fence, or after another manager took the leadership key, writes nothing', async () => {
  const { backend, fence, prefix: p } = await leading();
  const store = await Store.load(backend);
  const fenced: FencedError[] = [];
  const watching = new EtcdBackend(client, p, logger, (err) => fenced.push(err));
  watching.setFence(fence);
  const other = await Store.load(watching);
  // The key is taken again (a successor's campaign): its create revision moves on.
  await client.delete().key(fence.key).exec();
  await client.put(fence.key).value('successor').exec();
  await assert.rejects(
    other.mutate(() => ({ changes: [{ kind: 'putService', service: service('s9', 'late') }], result: undefined })),
    FencedError,
  );
  assert.equal(fenced.length, 1, 'told once');
  assert.equal(watching.fence, undefined, 'it stops writing at once');
  await assert.rejects(
    store.mutate(() => ({ changes: [{ kind: 'putService', service: service('s8', 'late') }], result: undefined })),
    FencedError,
  );
  const reloaded = await Store.load(new EtcdBackend(client, p, logger));
  assert.deepEqual([...reloaded.services()], [], 'nothing was written');
});

test('health runs without a transition are coalesced; a task deleted first takes them with it', async () => {
  const { backend, prefix: p } = await leading();
  const store = await Store.load(backend);
  await store.mutate(() => ({ changes: [{ kind: 'putTask', task: task('t1', 's1', 1) }], result: undefined }));
  const put = (at: number, coalesce: boolean): Change => ({
    kind: 'putHealth',
    taskId: 't1',
    phase: 'liveness',
    record: record([result(at)]),
    added: 1,
    coalesce,
  });
  await store.mutate(() => ({ changes: [put(10, true)], result: undefined }));
  const stored = async () => (await client.namespace(`${p}state/`).getAll().prefix('result:t1:').keys()).length;
  assert.equal(await stored(), 0, 'not written yet');
  assert.deepEqual(
    store.health('t1').liveness?.results.map((r) => r.at),
    [10],
    'memory has it at once',
  );
  await backend.flush();
  assert.equal(await stored(), 1, 'written by the flush');
  await store.mutate(() => ({ changes: [put(11, false)], result: undefined }));
  assert.equal(await stored(), 2, 'a transition is written at once');
  await store.mutate(() => ({ changes: [put(12, true)], result: undefined }));
  await store.mutate(() => ({ changes: [{ kind: 'deleteTask', task: task('t1', 's1', 1) }], result: undefined }));
  await backend.flush();
  assert.equal(await stored(), 0, 'the deleted task left nothing behind');
});

test('a transition written while a flush is under way is not overwritten by the older run it carried', async () => {
  const { backend, prefix: p } = await leading();
  const keys = Array.from({ length: MAX_TXN_OPS * 2 + 10 }, (_, i) => `k${String(i).padStart(4, '0')}`);
  await backend.write(
    [],
    keys.map((key) => ({ type: 'put' as const, key, value: 'run' })),
  );
  const last = keys.at(-1)!;
  const flushing = backend.flush(); // three transactions; the last carries `last`
  await backend.write([{ type: 'put', key: last, value: 'transition' }], []);
  await flushing;
  const state = client.namespace(`${p}state/`);
  assert.equal(await state.get(last).string(), JSON.stringify('transition'));
  assert.equal((await state.getAll().keys()).length, keys.length, 'every run was written');
});

test('a write larger than one transaction goes through in several', async () => {
  const { backend, prefix: p } = await leading();
  const store = await Store.load(backend);
  const many: Change[] = Array.from({ length: MAX_TXN_OPS * 2 + 5 }, (_, i) => ({
    kind: 'putTask',
    task: task(`t${i}`, 's1', i + 1),
  }));
  await store.mutate(() => ({ changes: many, result: undefined }));
  const again = await Store.load(new EtcdBackend(client, p, logger));
  assert.equal([...again.tasks()].length, MAX_TXN_OPS * 2 + 5);
});

test("a follower sees the leader's writes as its listeners did: tasks, health rings, events, deletes", async () => {
  const { backend, prefix: p } = await leading();
  const leader = await Store.load(backend);
  await leader.mutate(() => ({
    changes: [
      { kind: 'putService', service: service('s1', 'web') },
      { kind: 'putTask', task: task('t1', 's1', 1) },
    ],
    result: undefined,
  }));
  const followerBackend = new EtcdBackend(client, p, logger);
  const follower = await Store.load(followerBackend);
  const heard: string[] = [];
  follower.onCommit((changes, events) => heard.push(...changes.map((c) => c.kind), ...events.map((e) => e.type)));
  const stop = new AbortController();
  let revision = followerBackend.loadedRevision;
  const following = followerBackend.follow(
    revision,
    (ops, at) => {
      follower.applyRemote(ops);
      revision = at;
    },
    stop.signal,
  );

  // More results than the ring holds, in several writes, then a task and an event.
  const results = Array.from({ length: RESULTS_KEPT + 4 }, (_, i) => result(100 + i));
  for (let i = 0; i < results.length; i += 3) {
    const upTo = results.slice(0, i + 3);
    const change: Change = {
      kind: 'putHealth',
      taskId: 't1',
      phase: 'liveness',
      record: record(upTo.slice(-RESULTS_KEPT)),
      added: upTo.length - i,
    };
    await leader.mutate(() => ({ changes: [change], result: undefined }));
  }
  await leader.mutate(() => ({
    changes: [
      { kind: 'putTask', task: task('t2', 's1', 2) },
      { kind: 'event', event: { type: 'task-created', serviceId: 's1', service: 'web', reason: 'two' } },
    ],
    result: undefined,
  }));
  await waitUntil(() => follower.task('t2') !== undefined && follower.events().length === 1);
  assert.deepEqual(
    follower.health('t1').liveness?.results.map((r) => r.at),
    leader.health('t1').liveness?.results.map((r) => r.at),
    'the same ring of results, in order',
  );
  assert.ok(heard.includes('putTask') && heard.includes('task-created') && heard.includes('putHealth'));

  await leader.mutate(() => ({
    changes: [
      { kind: 'deleteTask', task: task('t1', 's1', 1) },
      { kind: 'deleteService', service: service('s1', 'web') },
    ],
    result: undefined,
  }));
  await waitUntil(() => follower.task('t1') === undefined && follower.serviceByName('web') === undefined);
  assert.deepEqual(follower.health('t1'), {});
  stop.abort();
  await following;
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
