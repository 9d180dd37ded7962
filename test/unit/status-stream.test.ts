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
import type { EventDraft, Service } from '@warren/core';
import { NodeSessions, StatusStream, Store, type Change } from '@warren/manager';
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
