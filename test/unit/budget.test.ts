/**
 * The replacement budget's promise: at any moment, at most the budget of a service's slots are
 * without a running task because of health. Counted here from the outside — tasks and their
 * health as a user sees them — not with the reconciler's own bookkeeping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTART_DEFAULTS, replacementBudget, type Task } from '@warren/core';
import { World } from '../helpers/reconcile-world.js';

/**
 * Slots 1..replicas that lost a task to a health verdict and have no task that runs and has
 * been healthy since it started (a new slot of a scale-up is not out because of health).
 */
function slotsWithoutHealthyTask(w: World, replicas: number): number[] {
  const holds = (t: Task): boolean =>
    t.state === 'running' && (w.health.get(t.id)?.status === 'healthy' || w.health.get(t.id)?.wasHealthy === true);
  const lostToHealth = (slot: number): boolean =>
    w.tasks.some((t) => t.slot === slot && t.state === 'failed' && /probe failed/.test(t.error));
  const out: number[] = [];
  for (let slot = 1; slot <= replicas; slot++) {
    if (lostToHealth(slot) && !w.live().some((t) => t.slot === slot && holds(t))) out.push(slot);
  }
  return out;
}

/** A task's container runs; its checks have not passed yet (it has checks, so it is `starting`). */
function start(w: World, id: string): void {
  w.run(id);
  w.health.set(id, { status: 'starting', wasHealthy: false });
}

function failedCount(w: World): number {
  return w.tasks.filter((t) => t.state === 'failed').length;
}

/** Six healthy replicas on one node, backoff as configured. */
function healthyService(replicas = 6, restart = { ...RESTART_DEFAULTS, delayMs: 500, maxDelayMs: 4000 }): World {
  const w = new World();
  w.service('web', replicas, 'warren-test:latest', { restart });
  w.pass();
  for (const t of w.live()) {
    w.run(t.id);
    w.healthy(t.id);
  }
  w.pass();
  assert.deepEqual(slotsWithoutHealthyTask(w, replicas), []);
  return w;
}

test('a replacement that turned healthy and fails again needs room in the budget like any task', () => {
  const w = healthyService();
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  assert.equal(failedCount(w), 2, 'budget 2 of 6');
  const replacements = w.live().filter((t) => t.state !== 'running');
  assert.equal(replacements.length, 2);
  for (const r of replacements) {
    start(w, r.id);
    w.healthy(r.id);
  }
  w.pass();
  assert.equal(failedCount(w), 4, 'both replacements hold their slots: two held tasks may go');

  // The shared dependency flaps: the healthy replacements fail again while two slots are out.
  for (const r of replacements) w.unhealthy(r.id);
  w.pass();
  assert.equal(failedCount(w), 4, 'no more than the budget');
  for (const r of replacements) {
    const now = w.tasks.find((t) => t.id === r.id)!;
    assert.equal(now.state, 'running', 'kept running');
    assert.equal(now.held, true, 'and held, saying why');
    assert.match(now.message, /held back/);
  }
  assert.equal(slotsWithoutHealthyTask(w, 6).length, 2);
});

test("a replacement frees room only once healthy for its check's detection time: held tasks get to recover", () => {
  const w = new World();
  const check = {
    handler: { exec: { command: ['true'] } },
    intervalMs: 1000,
    timeoutMs: 500,
    retries: 3,
    successThreshold: 1,
    startPeriodMs: 0,
  };
  w.service('web', 6, 'warren-test:latest', { health: { check } as never });
  w.pass();
  for (const t of w.live()) {
    w.run(t.id);
    w.healthy(t.id);
  }
  w.pass();
  const originals = w.live();
  for (const t of originals) w.unhealthy(t.id);
  w.pass();
  assert.equal(failedCount(w), 2, 'budget 2 of 6');
  const replacements = w.live().filter((t) => t.state !== 'running');
  for (const r of replacements) {
    start(w, r.id);
    w.healthy(r.id);
  }
  w.now += 3000; // healthy, not yet for 3 x 1 s + 0.5 s
  w.pass();
  assert.equal(failedCount(w), 2, 'the held tasks are not killed on a verdict their next probe may reverse');
  // The dependency is back: the held ones pass again and are released, none was killed.
  const held = originals.filter((t) => w.tasks.find((x) => x.id === t.id)!.state === 'running');
  assert.equal(held.length, 4);
  for (const t of held) w.healthy(t.id);
  w.now += 2000;
  w.pass();
  assert.equal(failedCount(w), 2);
  assert.ok(
    held.every((t) => !w.tasks.find((x) => x.id === t.id)!.held),
    'released',
  );

  // Had they still failed once the replacements proved themselves, two more would have gone.
  for (const t of held) w.unhealthy(t.id);
  w.pass();
  assert.equal(failedCount(w), 4);
});

test('a replacement that fails before it ever turned healthy goes at once: its slot already counts', () => {
  const w = healthyService(6, { ...RESTART_DEFAULTS, delayMs: 0, maxDelayMs: 0 });
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  const [first] = w.live().filter((t) => t.state !== 'running');
  start(w, first!.id);
  w.unhealthy(first!.id);
  w.pass();
  assert.equal(w.tasks.find((t) => t.id === first!.id)!.state, 'failed');
  assert.equal(failedCount(w), 3, 'no held task was released by it');
  assert.equal(w.live().filter((t) => t.held).length, 4);
  assert.equal(slotsWithoutHealthyTask(w, 6).length, 2);
});

test('a slot waiting out its backoff after a health failure counts until its next task is healthy', () => {
  const w = healthyService(6, { ...RESTART_DEFAULTS, delayMs: 10_000, maxDelayMs: 10_000 });
  const [a] = w.live();
  // Slot 1 fails once (replaced at once), then its replacement fails before getting healthy: backoff.
  w.unhealthy(a!.id);
  w.pass();
  const r = w.live().find((t) => t.slot === a!.slot)!;
  start(w, r.id);
  w.unhealthy(r.id);
  w.pass();
  assert.equal(w.slot(a!.slot)!.nextAttemptAt > w.now, true, 'slot 1 waits out a backoff');
  assert.equal(
    w.live().some((t) => t.slot === a!.slot),
    false,
  );
  // Everything else fails now: only one more may go (budget 2: slot 1 waiting is one).
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  assert.equal(slotsWithoutHealthyTask(w, 6).length, 2);
  assert.equal(w.live().filter((t) => t.held).length, 4);
});

test('slots that gave up after health failures count against the budget for good', () => {
  const w = healthyService(3, { ...RESTART_DEFAULTS, delayMs: 0, maxDelayMs: 0, maxAttempts: 1 });
  const [a] = w.live();
  w.unhealthy(a!.id);
  w.pass();
  const r = w.live().find((t) => t.slot === a!.slot)!;
  start(w, r.id);
  w.unhealthy(r.id);
  w.pass();
  assert.equal(w.slot(a!.slot)!.gaveUp, true);
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  assert.equal(w.live().length, 2, 'the two others keep running');
  assert.ok(w.live().every((t) => t.held && t.state === 'running'));
});

/** A small deterministic random source (LCG), so a failing seed can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

for (const seed of [1, 7, 42, 1234, 99_991]) {
  test(`a flapping shared dependency never leaves more than the budget of slots without a healthy task (seed ${seed})`, () => {
    const rnd = random(seed);
    let replicas = 6;
    const w = healthyService(replicas);
    let worst = 0;
    let previous = 0;
    // 200 ms steps for 60 s: the dependency flaps; each step, running tasks may fail their checks
    // (more often while it is down), new tasks start and pass their first checks after a step.
    for (let step = 0; step < 300; step++) {
      w.now += 200;
      const down = Math.floor(step / 15) % 2 === 0;
      if (step === 120 || step === 200) {
        replicas = step === 120 ? 9 : 6; // scale up during the outage, then back down
        w.service('web', replicas, 'warren-test:latest', {
          restart: { ...RESTART_DEFAULTS, delayMs: 500, maxDelayMs: 4000 },
        });
      }
      for (const t of w.live()) {
        const h = w.health.get(t.id);
        if (t.state === 'assigned') {
          if (rnd() < 0.7) start(w, t.id);
        } else if (t.state === 'running') {
          if (h?.status !== 'healthy' && h?.status !== 'unhealthy') {
            if (rnd() < 0.8) w.healthy(t.id);
          } else if (h.status === 'healthy' && rnd() < (down ? 0.6 : 0.05)) w.unhealthy(t.id);
          else if (h.status === 'unhealthy' && !down && rnd() < 0.5) w.healthy(t.id);
        }
      }
      w.pass();
      const out = slotsWithoutHealthyTask(w, replicas).length;
      const budget = replacementBudget({ replicas, maxReplacing: 0 });
      // Scaling down can shrink the budget below what is already out: then it must not grow.
      if (out > budget)
        assert.ok(step >= 200 && out <= previous, `step ${step}: ${out} slots out for health, budget ${budget}`);
      previous = out;
      worst = Math.max(worst, out);
      // Held tasks are never stopped.
      for (const t of w.live().filter((x) => x.held)) assert.equal(t.desiredState, 'running');
    }
    assert.ok(worst >= 2, `the outage did press on the budget (worst ${worst})`);
    assert.ok(w.types().includes('replacement-held'));
  });
}

test('with no budget left, a held task that recovers is released and nothing is failed for it', () => {
  const w = healthyService();
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  const held = w.live().filter((t) => t.held);
  assert.equal(held.length, 4);
  for (const t of held) w.healthy(t.id);
  w.pass();
  assert.equal(w.live().filter((t) => t.held).length, 0);
  assert.equal(failedCount(w), 2);
});

test('a replacement that crashes or cannot pull its image does not free the budget: the rest stay held', () => {
  const w = healthyService(6, { ...RESTART_DEFAULTS, delayMs: 0, maxDelayMs: 0 });
  for (const t of w.live()) w.unhealthy(t.id);
  w.pass();
  assert.equal(failedCount(w), 2);
  // The database and the registry are down together: every replacement is rejected or exits.
  for (let round = 0; round < 5; round++) {
    for (const r of w.live().filter((t) => t.state !== 'running')) {
      w.observe(
        r.id,
        round % 2 ? { state: 'rejected', error: 'registry unreachable: …' } : { state: 'failed', error: 'exit 1' },
      );
    }
    w.pass();
    assert.equal(
      w.live().filter((t) => t.held && t.state === 'running').length,
      4,
      `round ${round}: four keep running`,
    );
  }
});
