import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { PROBE_DEFAULTS, spreadOffset, type HealthSpec, type Probe, type ProbeHandler, type Task } from '@warren/core';
import { Prober, TimerHeap, type PhaseUpdate } from '@warren/worker';
import { runningTask, testSpec } from '../helpers/spec.js';

const logger = pino({ level: 'silent' });
const exec = (name: string): ProbeHandler => ({ kind: 'exec', command: [name] });
const probe = (name: string, over: Partial<Probe> = {}): Probe => ({
  handler: exec(name),
  ...PROBE_DEFAULTS,
  intervalMs: 1000,
  ...over,
});

function task(id: string, health: HealthSpec): Task {
  return runningTask(id, testSpec({ image: 'i', stopTimeoutMs: 0, health }), { containerId: 'c' });
}

/**
 * A prober on mocked timers. Handlers are scripted per name: they take `durationMs` and
 * answer with the next scripted outcome (default success). Every start is recorded.
 */
function harness(script: Record<string, { durationMs?: number; outcomes?: Array<'success' | 'failure'> }> = {}) {
  const starts: Array<{ name: string; at: number }> = [];
  const running = new Map<string, number>();
  let maxConcurrentPerName = 0;
  const updates: PhaseUpdate[] = [];
  const prober = new Prober({
    logger,
    now: () => Date.now(),
    onUpdate: (u) => updates.push(u),
    execute: async (handler) => {
      const name = handler.kind === 'exec' ? handler.command[0]! : handler.kind;
      starts.push({ name, at: Date.now() });
      running.set(name, (running.get(name) ?? 0) + 1);
      maxConcurrentPerName = Math.max(maxConcurrentPerName, running.get(name)!);
      const s = script[name] ?? {};
      if (s.durationMs) await new Promise((r) => setTimeout(r, s.durationMs));
      running.set(name, running.get(name)! - 1);
      return { outcome: s.outcomes?.shift() ?? 'success', output: '' };
    },
  });
  return { prober, starts, updates, maxConcurrent: () => maxConcurrentPerName };
}

/** Advances the mocked clock 1 ms at a time, letting promises settle in between. */
async function advance(ms: number): Promise<void> {
  const settle = async () => {
    for (let j = 0; j < 5; j++) await Promise.resolve();
  };
  for (let i = 0; i < ms; i++) {
    await settle();
    mock.timers.tick(1);
  }
  await settle();
}

test('first run at once; the next starts one interval after the previous ended; runs never overlap', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const h = harness({ slow: { durationMs: 300 } });
  h.prober.add(task('t1', { check: probe('slow') }), { containerId: 'c', address: '127.0.0.1' }, 0);
  await advance(3000);
  assert.deepEqual(
    h.starts.map((s) => s.at),
    [0, 1300, 2600],
  );
  assert.equal(h.maxConcurrent(), 1);

  const slower = harness({ stuck: { durationMs: 2500 } });
  slower.prober.add(
    task('t2', { check: probe('stuck', { intervalMs: 100 }) }),
    { containerId: 'c', address: '127.0.0.1' },
    0,
  );
  await advance(6000);
  assert.equal(slower.maxConcurrent(), 1, 'a run longer than the interval delays the next, never overlaps it');
  assert.deepEqual(
    slower.starts.map((s) => s.at - 3000),
    [0, 2600, 5200],
  );
  h.prober.stop();
  slower.prober.stop();
});

test('adopted containers: first runs are spread over one interval, deterministically', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
  t.after(() => mock.timers.reset());
  const h = harness();
  const ids = Array.from({ length: 20 }, (_, i) => `task${i}`);
  for (const id of ids)
    h.prober.add(task(id, { check: probe(id) }), { containerId: 'c', address: '127.0.0.1' }, 0, { adopted: true });
  await advance(1000);
  const firstRuns = new Map<string, number>();
  for (const s of h.starts) if (!firstRuns.has(s.name)) firstRuns.set(s.name, s.at);
  assert.equal(firstRuns.size, 20);
  for (const id of ids) assert.equal(firstRuns.get(id), 10_000 + spreadOffset(`${id}/check`, 1000));
  assert.ok(new Set(firstRuns.values()).size > 10, 'not all at once');
  h.prober.stop();
});

test('startup gates liveness and readiness; startup never runs again after passing', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const h = harness({ start: { outcomes: ['failure', 'failure', 'success'] } });
  h.prober.add(
    task('t', { startup: probe('start', { retries: 10 }), liveness: probe('live'), readiness: probe('ready') }),
    { containerId: 'c', address: '127.0.0.1' },
    0,
  );
  await advance(5500);
  const at = (name: string) => h.starts.filter((s) => s.name === name).map((s) => s.at);
  assert.deepEqual(at('start'), [0, 1000, 2000]);
  assert.deepEqual(at('live'), [2000, 3000, 4000, 5000], 'liveness starts at once when startup passes');
  assert.deepEqual(at('ready'), [2000, 3000, 4000, 5000]);
  h.prober.stop();
});

test('an unhealthy probe keeps running (a held task may recover); a removed task is not probed again', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const h = harness({ live: { outcomes: ['failure', 'failure'] } });
  h.prober.add(task('t', { liveness: probe('live', { retries: 2 }) }), { containerId: 'c', address: '127.0.0.1' }, 0);
  h.prober.add(task('u', { readiness: probe('ready') }), { containerId: 'c', address: '127.0.0.1' }, 0);
  await advance(1500);
  h.prober.remove('u');
  await advance(3000);
  assert.equal(h.starts.filter((s) => s.name === 'live').length, 5, 'liveness goes on after turning unhealthy');
  assert.equal(h.starts.filter((s) => s.name === 'ready').length, 2, 'nothing after removal');
  assert.deepEqual(
    h.updates.filter((u) => u.transition).map((u) => [u.phase, u.state.status]),
    [
      ['readiness', 'healthy'],
      ['liveness', 'unhealthy'],
      ['liveness', 'healthy'],
    ],
  );
  assert.equal(h.prober.has('t'), true);
  assert.equal(h.prober.has('u'), false);
  h.prober.stop();
});

test('known health seeds the state machine (a worker restart does not reset it)', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const h = harness();
  const known = {
    status: 'healthy' as const,
    successStreak: 40,
    failureStreak: 0,
    everSucceeded: true,
    lastTransitionAt: 5,
    lastTransitionFrom: 'starting' as const,
  };
  h.prober.add(
    task('t', { startup: probe('start'), liveness: probe('live') }),
    { containerId: 'c', address: '127.0.0.1' },
    0,
    { known: { startup: known, liveness: known } },
  );
  await advance(10);
  assert.deepEqual(
    h.starts.map((s) => s.name),
    ['live'],
    'startup had passed: it does not run again',
  );
  assert.equal(h.updates[0]!.state.successStreak, 41);
  assert.equal(h.updates[0]!.transition, false);
  h.prober.stop();
});

test('the timer heap fires in time order, ties in scheduling order, and skips cancelled entries', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const fired: string[] = [];
  const heap = new TimerHeap<string>(
    () => Date.now(),
    (item) => fired.push(item),
  );
  for (const [at, item] of [
    [50, 'c'],
    [10, 'a'],
    [30, 'b1'],
    [30, 'b2'],
    [70, 'gone'],
  ] as const) {
    const entry = heap.schedule(at, item);
    if (item === 'gone') heap.cancel(entry);
  }
  heap.schedule(5, 'first');
  await advance(100);
  assert.deepEqual(fired, ['first', 'a', 'b1', 'b2', 'c']);
  heap.stop();
});
