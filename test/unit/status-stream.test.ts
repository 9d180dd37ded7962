/**
 * The status page's stream (packages/manager/src/status/stream.ts) over a real store, with
 * in-memory responses: views are coalesced per tick and sent only when they changed, a page
 * that is behind skips views instead of queueing them, events reach only the pages they concern,
 * and a reconnecting page gets the events it missed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { EventDraft, PhaseRecord, Probe, Service, Task } from '@warren/core';
import { NodeSessions, StatusStream, Store, type Change } from '@warren/manager';
import { CARDS_SHOWN } from '@warren/status-page/cards';
import { testSpec } from '../helpers/spec.js';
import { waitFor } from '../helpers/cluster.js';

/** A ServerResponse that keeps what is written; `full` makes writes report a full buffer. */
class FakeResponse extends EventEmitter {
  chunks: string[] = [];
  status = 0;
  full = false;
  writableEnded = false;
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }
  end(): void {
    this.writableEnded = true;
    this.emit('close');
  }
  /** The server-sent events written so far, by name. */
  messages(): { event: string; data: string; id?: string }[] {
    return this.chunks
      .join('')
      .split('\n\n')
      .map((block) =>
        Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])),
      )
      .filter((m) => m.event) as { event: string; data: string; id?: string }[];
  }
}

const service = (id: string, name: string, replicas = 1): Service => ({
  id,
  spec: testSpec({ name, replicas }),
  createdAt: 1,
  updatedAt: 1,
});
const event = (name: string, reason: string): { kind: 'event'; event: EventDraft } => ({
  kind: 'event',
  event: { type: 'service-scaled', serviceId: name, service: name, reason },
});

async function setUp(t: import('node:test').TestContext, tickMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'warren-status-'));
  const store = await Store.open(dir);
  const sessions = new NodeSessions(Date.now, 1000);
  const ingress = { problems: () => [], nodeUp: () => true };
  const sources = { store, sessions, ingress, now: Date.now, version: 'test' };
  const stream = new StatusStream({ sources, store, logger: pino({ level: 'silent' }), tickMs, refreshMs: 60_000 });
  t.after(async () => {
    stream.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const commit = (r: { changes: Change[]; result: undefined }) => store.mutate(() => r);
  return { store, stream, commit };
}

test('views are built once per tick for every page, sent only when they changed', async (t) => {
  const { store, stream, commit } = await setUp(t, 200);
  await commit({ changes: [{ kind: 'putService', service: service('s1', 'web') }], result: undefined });
  const pages = [new FakeResponse(), new FakeResponse()];
  for (const p of pages) stream.open(p as unknown as ServerResponse, [''], 0);
  assert.equal(stream.pages, 2);
  for (const p of pages) assert.equal(p.messages().filter((m) => m.event === 'overview').length, 1, 'a view at once');

  // Ten changes in a burst: the first goes out at once, the rest together a tick later; not ten views.
  for (let i = 2; i <= 11; i++) {
    await commit({ changes: [{ kind: 'putService', service: service(`s${i}`, `svc${i}`) }], result: undefined });
  }
  const latest = (p: FakeResponse) => p.messages().filter((m) => m.event === 'overview');
  const services = (p: FakeResponse) =>
    (JSON.parse(latest(p).at(-1)!.data) as { services: unknown[] }).services.length;
  await waitFor('the view with all eleven', () => services(pages[0]!) === 11, 5000, 20);
  const sent = latest(pages[0]!).length;
  assert.ok(sent <= 3, `one view at once, then at most one per tick (${sent} views)`);
  await new Promise((r) => setTimeout(r, 500)); // ticks' worth of time: nothing changed, nothing sent
  for (const p of pages) {
    assert.equal(latest(p).length, sent, 'the same views to every page, and none while nothing changed');
    assert.equal(services(p), 11);
  }
  // A change that is not in the view (an event of no service shown) sends the event only.
  await commit({ changes: [event('web', 'a scale')], result: undefined });
  await waitFor(
    'the event',
    () => pages[1]!.messages().some((m) => m.event === 'events' && m.data.includes('a scale')),
    5000,
    20,
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(latest(pages[1]!).length, sent, 'an event alone sends no view');
  assert.ok(store.events().length > 0);
});

test('a page that is behind skips views until it drains, then gets the latest one', async (t) => {
  const { stream, commit } = await setUp(t, 50);
  await commit({ changes: [{ kind: 'putService', service: service('s1', 'web') }], result: undefined });
  const slow = new FakeResponse();
  stream.open(slow as unknown as ServerResponse, ['web'], 0);
  slow.full = true;
  await commit({ changes: [{ kind: 'putService', service: service('s1', 'web', 2) }], result: undefined });
  await waitFor(
    'the write that filled it',
    () => slow.messages().filter((m) => m.event === 'service').length === 2,
    5000,
    10,
  );
  for (const replicas of [3, 4, 5]) {
    await commit({ changes: [{ kind: 'putService', service: service('s1', 'web', replicas) }], result: undefined });
    await new Promise((r) => setTimeout(r, 120));
  }
  assert.equal(slow.messages().filter((m) => m.event === 'service').length, 2, 'nothing more while behind');
  slow.full = false;
  slow.emit('drain');
  const views = slow.messages().filter((m) => m.event === 'service');
  assert.equal(views.length, 3);
  assert.equal((JSON.parse(views[2]!.data) as { summary: { replicas: number } }).summary.replicas, 5, 'the latest');
});

test("a service's page gets its own events, 'gone' when it is removed, and a reconnect replays what it missed", async (t) => {
  const { stream, commit } = await setUp(t, 50);
  await commit({
    changes: [
      { kind: 'putService', service: service('s1', 'web') },
      { kind: 'putService', service: service('s2', 'db') },
      event('web', 'web one'),
      event('db', 'db one'),
    ],
    result: undefined,
  });
  const page = new FakeResponse();
  stream.open(page as unknown as ServerResponse, ['web'], 0);
  await commit({ changes: [event('db', 'db two'), event('web', 'web two')], result: undefined });
  await waitFor('web two', () => page.chunks.join('').includes('web two'), 5000, 10);
  const text = page.chunks.join('');
  assert.ok(text.includes('web one'), 'the newest events of its service when it opened');
  assert.ok(!text.includes('db one') && !text.includes('db two'), "no other service's events");
  const lastId = Number(
    page
      .messages()
      .filter((m) => m.event === 'events')
      .at(-1)!.id,
  );

  page.end();
  assert.equal(stream.pages, 0);
  await commit({ changes: [event('web', 'web three')], result: undefined });
  const again = new FakeResponse();
  stream.open(again as unknown as ServerResponse, ['web'], lastId);
  const replayed = again.messages().filter((m) => m.event === 'events');
  assert.deepEqual(
    replayed.flatMap((m) => (JSON.parse(m.data) as { reason: string }[]).map((e) => e.reason)),
    ['web three'],
    'only what it missed',
  );

  await commit({ changes: [{ kind: 'deleteService', service: service('s1', 'web') }], result: undefined });
  await waitFor('gone', () => again.messages().some((m) => m.event === 'gone'), 5000, 10);
});

test('a service view carries check runs only for the tasks the page draws as cards', async (t) => {
  const { stream, commit } = await setUp(t, 50);
  const probe: Probe = {
    ...{ handler: { kind: 'tcp', port: 80 }, intervalMs: 1000, timeoutMs: 1000, retries: 3 },
    ...{ successThreshold: 1, startPeriodMs: 0 },
  } as Probe;
  const spec = testSpec({ name: 'web', replicas: CARDS_SHOWN + 10, health: { liveness: probe } });
  const task = (slot: number): Task => ({
    ...{ id: `t${String(slot).padStart(3, '0')}`, serviceId: 's1', serviceName: 'web', slot, nodeId: 'n1' },
    ...{ desiredState: 'running', state: 'running', message: '', error: '', containerId: '', address: '' },
    ...{ startedAt: 1, replacing: false, held: false, createdAt: 1, updatedAt: 1, spec },
  });
  const record = (status: PhaseRecord['status']): PhaseRecord => ({
    ...{ status, successStreak: 0, failureStreak: 0, everSucceeded: true, lastTransitionAt: 1 },
    ...{
      lastTransitionFrom: 'starting',
      results: [{ at: 1, durationMs: 1, outcome: 'success', output: '', counted: true }],
    },
  });
  const changes: Change[] = [{ kind: 'putService', service: { id: 's1', spec, createdAt: 1, updatedAt: 1 } }];
  for (let slot = 1; slot <= spec.replicas; slot++) {
    // The last slot is unhealthy: in trouble, it is drawn as a card although its slot comes last.
    const status = slot === spec.replicas ? 'unhealthy' : 'healthy';
    changes.push({ kind: 'putTask', task: task(slot) });
    changes.push({ kind: 'putHealth', taskId: task(slot).id, phase: 'liveness', record: record(status), added: 1 });
  }
  await commit({ changes, result: undefined });
  const page = new FakeResponse();
  stream.open(page as unknown as ServerResponse, ['web'], 0);
  const view = JSON.parse(page.messages().find((m) => m.event === 'service')!.data) as {
    tasks: { slot: number; checks: { results: unknown[] }[] }[];
  };
  const withRuns = view.tasks.filter((x) => x.checks[0]!.results.length > 0).map((x) => x.slot);
  assert.equal(view.tasks.length, spec.replicas, 'every live task is in the view');
  assert.equal(withRuns.length, CARDS_SHOWN);
  assert.ok(withRuns.includes(spec.replicas), 'the unhealthy task has its runs');
  assert.deepEqual(
    withRuns.slice(0, CARDS_SHOWN - 1),
    Array.from({ length: CARDS_SHOWN - 1 }, (_, i) => i + 1),
  );
});
