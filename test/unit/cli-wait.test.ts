/**
 * The rules of waiting for `service create` and `service scale` (DESIGN 11: commands that wait
 * always come back), on InspectService snapshots as the CLI receives them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { wire } from '@warren/api';
import {
  CHECK_PATIENCE_MS,
  CliError,
  convergeLines,
  convergeOutcome,
  convergeWatch,
  createScope,
  follow,
  scaleScope,
  shortReason,
  type WaitScope,
} from '@warren/cli';
import { NOW, fakeManager, snapshot, task, wireSpecOf } from '../helpers/cli-snapshots.js';

const HTTP_CHECK = ['--health-http', 'path=/health,port=8080'];

function result(atMs: number, outcome: 'success' | 'failure' | 'unknown', code?: number, counted = true) {
  return {
    atMs,
    durationMs: 3,
    outcome,
    hasCode: code !== undefined,
    code: code ?? 0,
    output: code === undefined && outcome === 'failure' ? 'connection refused' : '',
    counted: counted && outcome !== 'unknown',
    throttledPercent: 0,
    limitNanoCpus: 0,
  };
}

/** The phases a `--health-*` check feeds (liveness and readiness), with the same runs. */
function checked(
  results: ReturnType<typeof result>[],
  over: Partial<wire.PhaseHealthOut> = {},
): wire.PhaseHealthOut[] {
  const failures = results.filter((r) => r.counted && r.outcome === 'failure').length;
  return ['liveness', 'readiness'].map((phase) => ({
    phase,
    status: 'starting',
    successStreak: 0,
    failureStreak: failures,
    everSucceeded: results.some((r) => r.outcome === 'success'),
    lastTransitionAtMs: 0,
    lastTransitionFrom: '',
    results,
    ...over,
  }));
}

const starting = { healthStatus: 'starting', ready: false };
const lines = (detail: wire.ServiceDetailOut, scope: WaitScope, now = NOW) =>
  convergeLines(detail, scope, { tty: false, now }).map((l) => l.text);

test('create: done when every slot runs, healthy and ready; "no task yet" only while no task was made', async () => {
  const spec = await wireSpecOf('web:v1', '--replicas', '3', ...HTTP_CHECK);
  const scope = createScope(3);
  const one = task('t1', 1, spec, { createdAtMs: NOW - 1000 });
  assert.deepEqual(lines(snapshot(spec, null, [one]), scope), [
    'slot 1: task t10000000000 on w1: running, healthy, ready',
    'slot 2: no task yet',
    'slot 3: no task yet',
    '1/3: running',
  ]);
  assert.equal(convergeOutcome(snapshot(spec, null, [one]), scope, 'create', NOW), undefined);
  const all = [1, 2, 3].map((n) => task(`t${n}`, n, spec));
  assert.deepEqual(convergeOutcome(snapshot(spec, null, all), scope, 'create', NOW), {
    ok: true,
    message: 'web: 3/3 running',
  });
  const unready = { ...all[2]!, ready: false };
  assert.equal(
    convergeOutcome(snapshot(spec, null, [all[0]!, all[1]!, unready]), scope, 'create', NOW),
    undefined,
    'a readiness check is waited for where the slot changed',
  );
});

test('a check that keeps failing ends the wait after 30s of failures, with the check and its last answer', async () => {
  const spec = await wireSpecOf('web:v1', '--replicas', '2', ...HTTP_CHECK);
  const scope = createScope(2);
  const t0 = NOW - 40_000;
  const failing = (id: string, slot: number, runs: ReturnType<typeof result>[]) =>
    task(id, slot, spec, { ...starting, createdAtMs: t0, startedAtMs: t0, health: checked(runs) });
  const first = [failing('a1', 1, [result(t0, 'failure', 500)]), failing('b1', 2, [result(t0, 'failure', 500)])];
  assert.deepEqual(lines(snapshot(spec, null, first), scope), [
    'slot 1: task a10000000000 on w1: running, starting, not ready — last check HTTP 500',
    'slot 2: task b10000000000 on w2: running, starting, not ready — last check HTTP 500',
    '0/2: running',
  ]);
  assert.equal(
    convergeOutcome(snapshot(spec, null, first), scope, 'create', NOW),
    undefined,
    'one failure is not yet',
  );

  const second = result(t0 + CHECK_PATIENCE_MS - 1, 'failure', 500);
  const early = [failing('a1', 1, [second, result(t0, 'failure', 500)]), first[1]!];
  assert.equal(
    convergeOutcome(snapshot(spec, null, early), scope, 'create', NOW),
    undefined,
    'not 30s of failures yet',
  );

  const later = result(t0 + CHECK_PATIENCE_MS + 200, 'failure', 500);
  const stuck = [failing('a1', 1, [later, result(t0, 'failure', 500)]), first[1]!];
  assert.deepEqual(convergeOutcome(snapshot(spec, null, stuck), scope, 'create', NOW), {
    ok: false,
    message:
      'web: 0/2 healthy — liveness HTTP GET :8080/health → 500 (failing for 31s); ' +
      'the manager keeps replacing them: warren service ps web',
  });

  const recovered = [failing('a1', 1, [later, result(t0 + 20_000, 'success'), result(t0, 'failure', 500)]), first[1]!];
  assert.equal(
    convergeOutcome(snapshot(spec, null, recovered), scope, 'create', NOW),
    undefined,
    'a pass in between starts the count again',
  );
  const inStartPeriod = [
    failing('a1', 1, [result(t0 + 35_000, 'failure', 500, false), result(t0, 'failure', 500, false)]),
    first[1]!,
  ];
  assert.equal(
    convergeOutcome(snapshot(spec, null, inStartPeriod), scope, 'create', NOW),
    undefined,
    'failures inside the start period are not counted',
  );
});

test('tasks replaced 3 times for their check end the wait, counting replacements', async () => {
  const spec = await wireSpecOf('web:v1', '--replicas', '1', ...HTTP_CHECK, '--health-interval', '1s');
  const at = (s: number) => NOW - 10_000 + s * 1000;
  const replaced = (n: number) =>
    task(`r${n}`, 1, spec, {
      createdAtMs: at(n * 2),
      startedAtMs: at(n * 2),
      desiredState: 'shutdown',
      state: 'failed',
      error: 'liveness probe failed: HTTP 500',
      healthStatus: 'unhealthy',
      health: checked([result(at(n * 2 + 1), 'failure', 500), result(at(n * 2), 'failure', 500)]),
    });
  const current = task('r4', 1, spec, { ...starting, createdAtMs: at(8), startedAtMs: at(8), health: [] });
  const two = snapshot(spec, null, [current, replaced(2), replaced(1)]);
  assert.equal(convergeOutcome(two, createScope(1), 'create', NOW), undefined, 'two replacements in 6s: not yet');
  const three = snapshot(spec, null, [current, replaced(3), replaced(2), replaced(1)]);
  assert.deepEqual(convergeOutcome(three, createScope(1), 'create', NOW), {
    ok: false,
    message:
      'web: 0/1 healthy — liveness HTTP GET :8080/health → 500 (3 replacements); ' +
      'the manager keeps replacing them: warren service ps web',
  });
});

test('an image rejected twice ends the wait with the reason; progress shows the last rejection, never "no task yet"', async () => {
  const spec = await wireSpecOf('127.0.0.1:5999/nosuch:1');
  const why = 'registry unreachable: 127.0.0.1:5999/nosuch:1: dial tcp 127.0.0.1:5999: connect: connection refused';
  const rejected = (id: string, at: number) =>
    task(id, 1, spec, {
      createdAtMs: at,
      desiredState: 'shutdown',
      state: 'rejected',
      error: why,
      healthStatus: 'none',
      ready: false,
      startedAtMs: 0,
    });
  const once = snapshot(spec, null, [rejected('x1', NOW - 100)]);
  once.slots = [{ slot: 1, failures: 1, nextAttemptAtMs: NOW + 15_200, gaveUp: false, lastReason: why }];
  assert.deepEqual(lines(once, createScope(1)), [
    'slot 1: no task running — last task rejected: registry unreachable, next try in 16s',
    '0/1: running',
  ]);
  assert.equal(convergeOutcome(once, createScope(1), 'create', NOW), undefined);
  const twice = snapshot(spec, null, [rejected('x2', NOW - 50), rejected('x1', NOW - 100)]);
  twice.slots = once.slots;
  assert.deepEqual(convergeOutcome(twice, createScope(1), 'create', NOW), {
    ok: false,
    message: `web: 0/1 running — rejected twice: ${why}; the manager tries again in 16s: warren service ps web`,
  });
  assert.equal(shortReason(why), 'registry unreachable');
});

test('scale down returns once the removed tasks stopped, whatever the survivors do', async () => {
  const spec = await wireSpecOf('web:v1', '--replicas', '3', ...HTTP_CHECK);
  const tasks = [1, 2, 3].map((n) => task(`s${n}`, n, spec));
  const unready = { ...tasks[0]!, ready: false };
  const before = snapshot(spec, null, [unready, tasks[1]!, tasks[2]!]);
  const scope = scaleScope(before, 2);
  assert.deepEqual(scope.up, []);
  assert.deepEqual(scope.down, [3]);
  const two = await wireSpecOf('web:v1', '--replicas', '2', ...HTTP_CHECK);
  const stopping = snapshot(two, null, [unready, tasks[1]!, { ...tasks[2]!, desiredState: 'shutdown' }]);
  assert.equal(convergeOutcome(stopping, scope, 'scale', NOW), undefined);
  assert.deepEqual(lines(stopping, scope), [
    'slot 3: task s30000000000 on w3: stopping (scaled down)',
    '1/2: running; stopping 1 task',
  ]);
  const stopped = snapshot(two, null, [
    unready,
    tasks[1]!,
    { ...tasks[2]!, desiredState: 'shutdown', state: 'shutdown' },
  ]);
  assert.deepEqual(convergeOutcome(stopped, scope, 'scale', NOW), {
    ok: true,
    message: 'web: 1 task stopped (2 replicas)',
  });
});

test('scale up waits for the new slots only, and a new slot failing its check ends the wait', async () => {
  const two = await wireSpecOf('web:v1', '--replicas', '2', ...HTTP_CHECK);
  const three = await wireSpecOf('web:v1', '--replicas', '3', ...HTTP_CHECK);
  const old = [task('o1', 1, two, { ready: false, healthStatus: 'unhealthy' }), task('o2', 2, two)];
  const scope = scaleScope(snapshot(two, null, old), 3);
  assert.deepEqual([scope.up, scope.down], [[3], []]);
  const fresh = task('n3', 3, three, { createdAtMs: NOW - 1000 });
  assert.deepEqual(convergeOutcome(snapshot(three, null, [...old, fresh]), scope, 'scale', NOW), {
    ok: true,
    message: 'web: 1 new task running (3 replicas)',
  });
  const t0 = NOW - 45_000;
  const failing = task('n3', 3, three, {
    ...starting,
    createdAtMs: t0,
    startedAtMs: t0,
    health: checked([result(t0 + 31_000, 'failure'), result(t0, 'failure')]),
  });
  const outcome = convergeOutcome(snapshot(three, null, [...old, failing]), scope, 'scale', NOW);
  assert.deepEqual(outcome, {
    ok: false,
    message:
      'web: 1/3 healthy — liveness HTTP GET :8080/health → connection refused (failing for 31s); ' +
      'the manager keeps replacing them: warren service ps web',
  });
});

test('a readiness check that keeps failing ends the wait too, named as readiness', async () => {
  const spec = await wireSpecOf('web:v1', '--readiness-cmd', 'test -f /ready');
  const t0 = NOW - 40_000;
  const runs = [
    { ...result(t0 + 32_000, 'failure', 1), output: '' },
    { ...result(t0, 'failure', 1), output: '' },
  ];
  const phase = checked(runs)[1]!;
  const t = task('q1', 1, spec, {
    createdAtMs: t0,
    startedAtMs: t0,
    healthStatus: 'none',
    ready: false,
    health: [phase],
  });
  assert.deepEqual(convergeOutcome(snapshot(spec, null, [t]), createScope(1), 'create', NOW), {
    ok: false,
    message:
      'web: 0/1 healthy — readiness exec "test -f /ready" → exit code 1 (failing for 32s); ' +
      'its tasks get no traffic until the check passes: warren service ps web',
  });
});

test('a slot that gave up, and a task no node can take, end the wait', async () => {
  const spec = await wireSpecOf('web:v1');
  const crashed = task('g1', 1, spec, {
    desiredState: 'shutdown',
    state: 'failed',
    error: 'exited with code 1',
    createdAtMs: NOW - 5000,
  });
  const gaveUp = snapshot(spec, null, [crashed]);
  gaveUp.slots = [{ slot: 1, failures: 2, nextAttemptAtMs: 0, gaveUp: true, lastReason: 'exited with code 1' }];
  assert.deepEqual(convergeOutcome(gaveUp, createScope(1), 'create', NOW), {
    ok: false,
    message: 'web: 0/1 running — exited with code 1; the manager does not replace it again: warren service ps web',
  });
  const pending = (updatedAtMs: number) =>
    snapshot(spec, null, [
      task('p1', 1, spec, {
        state: 'pending',
        message: 'no ready node',
        nodeName: '',
        updatedAtMs,
        healthStatus: 'none',
      }),
    ]);
  assert.equal(convergeOutcome(pending(NOW - 1000), createScope(1), 'create', NOW), undefined);
  assert.deepEqual(convergeOutcome(pending(NOW - 6000), createScope(1), 'create', NOW), {
    ok: false,
    message: 'web: 0/1 running — no ready node; it starts as soon as a node can take it: warren service ps web',
  });
});

test('follow: a stuck slot is a CliError with exit 1; the progress printed before it carries the reason', async () => {
  const spec = await wireSpecOf('web:v1', '--replicas', '1', ...HTTP_CHECK);
  const t0 = NOW - 40_000;
  const at = (runs: ReturnType<typeof result>[]) =>
    snapshot(spec, null, [
      task('f1', 1, spec, { ...starting, createdAtMs: t0, startedAtMs: t0, health: checked(runs) }),
    ]);
  const manager = await fakeManager([
    at([result(t0, 'failure', 500)]),
    at([result(t0 + 31_000, 'failure', 500), result(t0, 'failure', 500)]),
  ]);
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  try {
    const watch = convergeWatch(createScope(1), 'create');
    const error = await follow(manager.cmd, 'web', { watch, timeoutMs: 10_000, intervalMs: 10, out }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /^web: 0\/1 healthy — liveness HTTP GET :8080\/health → 500 \(failing for 31s\)/);
    assert.match(text, /slot 1: task f10000000000 on w1: running, starting, not ready — last check HTTP 500/);
  } finally {
    manager.close();
  }
});
