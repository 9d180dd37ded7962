import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROBE_DEFAULTS,
  applyResult,
  describeResult,
  initialPhaseState,
  probeFailureReason,
  probeRuns,
  spreadOffset,
  taskHealth,
  taskReady,
  type Outcome,
  type PhaseState,
  type Probe,
} from '@warren/core';

const tcp = (over: Partial<Probe> = {}): Probe => ({ handler: { kind: 'tcp', port: 80 }, ...PROBE_DEFAULTS, ...over });

/** Feeds outcomes one interval apart, with a fake clock starting at the container's start. */
function feed(probe: Probe, outcomes: Outcome[], startAt = 0, state: PhaseState = initialPhaseState(startAt)) {
  const transitions: Array<{ at: number; to: string }> = [];
  const counted: boolean[] = [];
  outcomes.forEach((outcome, i) => {
    const at = startAt + i * probe.intervalMs;
    const applied = applyResult(state, probe, startAt, { at, durationMs: 1, outcome, output: '' });
    state = applied.state;
    counted.push(applied.result.counted);
    if (applied.transition) transitions.push({ at, to: applied.transition.to });
  });
  return { state, transitions, counted };
}

test('a phase starts as starting', () => {
  assert.equal(initialPhaseState(5).status, 'starting');
});

test('rule 3: retries counted failures in a row turn a phase unhealthy; successThreshold successes turn it healthy', () => {
  const probe = tcp({ intervalMs: 1000, retries: 3, successThreshold: 2 });
  const r = feed(probe, [
    'success',
    'success',
    'failure',
    'failure',
    'success',
    'failure',
    'failure',
    'failure',
    'success',
    'success',
  ]);
  assert.deepEqual(r.transitions, [
    { at: 1000, to: 'healthy' },
    { at: 7000, to: 'unhealthy' },
    { at: 9000, to: 'healthy' },
  ]);
  assert.equal(r.state.lastTransitionFrom, 'unhealthy');
  assert.equal(r.state.lastTransitionAt, 9000);
});

test('unknown outcomes are recorded, never counted, and neither count nor reset a streak', () => {
  const probe = tcp({ retries: 2 });
  const r = feed(probe, ['failure', 'unknown', 'unknown', 'failure']);
  assert.deepEqual(r.counted, [true, false, false, true]);
  assert.deepEqual(
    r.transitions.map((t) => t.to),
    ['unhealthy'],
    'the unknowns did not break the failure streak',
  );
  const s = feed(tcp({ successThreshold: 2 }), ['success', 'unknown', 'success']);
  assert.deepEqual(
    s.transitions.map((t) => t.to),
    ['healthy'],
  );
  const u = feed(tcp({ retries: 1 }), ['unknown', 'unknown', 'unknown', 'unknown']);
  assert.equal(u.state.status, 'starting', 'unknown alone never decides');
});

test('rule 2: failures in the start period are recorded but not counted; after it they count', () => {
  const probe = tcp({ intervalMs: 1000, retries: 2, startPeriodMs: 5000 });
  const r = feed(probe, ['failure', 'failure', 'failure', 'failure', 'failure', 'failure', 'failure']);
  assert.deepEqual(r.counted, [false, false, false, false, false, true, true]);
  assert.deepEqual(r.transitions, [{ at: 6000, to: 'unhealthy' }]);
});

test('rule 2: the first success ends the start period', () => {
  const probe = tcp({ intervalMs: 1000, retries: 2, startPeriodMs: 60_000 });
  const r = feed(probe, ['success', 'failure', 'failure']);
  assert.deepEqual(r.counted, [true, true, true]);
  assert.deepEqual(
    r.transitions.map((t) => t.to),
    ['healthy', 'unhealthy'],
  );
});

test('the start period is measured from the container start, not from the first probe', () => {
  const probe = tcp({ retries: 1, startPeriodMs: 5000 });
  const state = initialPhaseState(0);
  const inside = applyResult(state, probe, 0, { at: 4999, durationMs: 1, outcome: 'failure', output: '' });
  const after = applyResult(state, probe, 0, { at: 5000, durationMs: 1, outcome: 'failure', output: '' });
  assert.equal(inside.result.counted, false);
  assert.equal(after.transition?.to, 'unhealthy');
});

test('rule 7: --health-* is one check feeding liveness and readiness; explicit phases win over it', () => {
  const check = tcp();
  assert.deepEqual(
    probeRuns({ check }).map((r) => [r.name, r.phases]),
    [['check', ['liveness', 'readiness']]],
  );
  const liveness = tcp({ intervalMs: 5000 });
  assert.deepEqual(
    probeRuns({ check, liveness }).map((r) => [r.name, r.phases]),
    [
      ['liveness', ['liveness']],
      ['check', ['readiness']],
    ],
  );
  const startup = tcp();
  const readiness = tcp();
  assert.deepEqual(
    probeRuns({ startup, liveness, readiness }).map((r) => r.name),
    ['startup', 'liveness', 'readiness'],
  );
  assert.deepEqual(probeRuns({}), []);
});

test('rule 8: task health is none without probes, startup while it has not passed, then liveness, else readiness', () => {
  const st = (status: PhaseState['status']): PhaseState => ({ ...initialPhaseState(0), status });
  assert.equal(taskHealth({}, {}), 'none');
  assert.equal(taskHealth({ check: tcp() }, {}), 'starting');
  assert.equal(taskHealth({ check: tcp() }, { liveness: st('healthy'), readiness: st('healthy') }), 'healthy');
  assert.equal(
    taskHealth({ startup: tcp(), liveness: tcp() }, { startup: st('starting'), liveness: st('healthy') }),
    'starting',
  );
  assert.equal(taskHealth({ startup: tcp(), liveness: tcp() }, { startup: st('unhealthy') }), 'unhealthy');
  assert.equal(
    taskHealth({ startup: tcp(), liveness: tcp() }, { startup: st('healthy'), liveness: st('unhealthy') }),
    'unhealthy',
  );
  assert.equal(taskHealth({ readiness: tcp() }, { readiness: st('unhealthy') }), 'unhealthy');
  assert.equal(
    taskHealth({ liveness: tcp(), readiness: tcp() }, { liveness: st('healthy'), readiness: st('unhealthy') }),
    'healthy',
  );
});

test('rule 6: a task is ready when running and its readiness is healthy, or it has no readiness probe', () => {
  const st = (status: PhaseState['status']): PhaseState => ({ ...initialPhaseState(0), status });
  assert.equal(taskReady({}, {}, true), true);
  assert.equal(taskReady({}, {}, false), false);
  assert.equal(taskReady({ readiness: tcp() }, {}, true), false, 'not ready before readiness turns healthy');
  assert.equal(taskReady({ readiness: tcp() }, { readiness: st('healthy') }, true), true);
  assert.equal(taskReady({ readiness: tcp() }, { readiness: st('healthy') }, false), false);
  assert.equal(
    taskReady({ liveness: tcp() }, { liveness: st('unhealthy') }, true),
    true,
    'liveness does not decide readiness',
  );
  assert.equal(taskReady({ startup: tcp() }, { startup: st('starting') }, true), false, 'not before startup passes');
  assert.equal(taskReady({ startup: tcp() }, { startup: st('healthy') }, true), true);
});

test('failure reasons say what the check saw', () => {
  const at = { at: 0, durationMs: 3, counted: true };
  assert.equal(
    probeFailureReason('liveness', 'http', { ...at, outcome: 'failure', code: 500, output: 'oops' }),
    'liveness probe failed: HTTP 500',
  );
  assert.equal(
    probeFailureReason('startup', 'exec', { ...at, outcome: 'failure', code: 1, output: '\nnot ready yet\n' }),
    'startup probe failed: exit code 1: not ready yet',
  );
  assert.equal(
    describeResult('tcp', { ...at, outcome: 'failure', output: 'connection refused' }),
    'connection refused',
  );
  assert.equal(describeResult('exec', { ...at, outcome: 'failure', code: 2, output: '' }), 'exit code 2');
});

test('rule 1: first runs after a worker restart are spread over an interval, the same way every time', () => {
  const offsets = Array.from({ length: 200 }, (_, i) => spreadOffset(`task${i}/liveness`, 10_000));
  assert.ok(offsets.every((o) => o >= 0 && o < 10_000));
  assert.deepEqual(
    offsets,
    Array.from({ length: 200 }, (_, i) => spreadOffset(`task${i}/liveness`, 10_000)),
    'deterministic',
  );
  const buckets = new Set(offsets.map((o) => Math.floor(o / 1000)));
  assert.equal(buckets.size, 10, 'spread over the whole interval');
});
