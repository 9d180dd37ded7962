/** The rollout engine of the pure reconciler: batches, health gates, failure actions, rollback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLLBACK_DEFAULTS, UPDATE_DEFAULTS, type ServiceSpec, type Task, type UpdatePolicy } from '@warren/core';
import { World } from '../helpers/reconcile-world.js';

/** A service of `replicas` tasks of web:v1, running, healthy and ready for a minute. */
function running(replicas: number, over: Partial<ServiceSpec> = {}): World {
  const w = new World();
  w.service('web', replicas, 'web:v1', over);
  w.pass();
  for (const t of w.live()) w.good(t.id);
  w.now += 60_000;
  w.pass();
  return w;
}

function policy(change: Partial<UpdatePolicy>): UpdatePolicy {
  return { ...UPDATE_DEFAULTS, ...change };
}

const ENDED = ['failed', 'complete', 'rejected', 'orphaned'];

/** One pass: the slots whose live task it stopped (not ended or failed) and the slots it created a task in. */
function step(w: World): { stopped: number[]; created: number[] } {
  const actions = w.pass();
  const slots = (as: typeof actions): number[] => as.map((a) => a.task.slot).sort((x, y) => x - y);
  const stops = actions.filter(
    (a) => a.type === 'update' && a.task.desiredState === 'shutdown' && !ENDED.includes(a.task.state),
  );
  return {
    stopped: slots(stops),
    created: slots(actions.filter((a) => a.type === 'create')),
  };
}

/** A pass again on the last one's output changes nothing: no action, no event, no service record. */
function settled(w: World): void {
  const events = w.events.length;
  assert.deepEqual(w.pass(), [], 'no action on a second pass');
  assert.equal(w.events.length, events, 'no event on a second pass');
  assert.deepEqual(w.lastPlan!.services, [], 'no service change on a second pass');
}

/** The live task of a slot on `image` (the newest). */
function inSlot(w: World, slot: number, image = 'web:v2'): Task {
  const found = w
    .live()
    .filter((t) => t.slot === slot && t.spec.image === image)
    .sort((a, b) => b.createdAt - a.createdAt)[0];
  assert.ok(found, `slot ${slot} has a live task of ${image}`);
  return found;
}

function images(w: World): string[] {
  return w.live().map((t) => `${t.slot}:${t.spec.image}`);
}

test('stop-first, parallelism 1: one slot at a time, the next once the new task succeeded', () => {
  const w = running(3);
  const v1 = w.live();
  w.update({ image: 'web:v2' });
  assert.deepEqual(step(w), { stopped: [1], created: [1] });
  assert.equal(w.tasks.find((t) => t.id === v1[0]!.id)!.message, 'updated to the new spec');
  settled(w);
  for (const slot of [2, 3]) {
    w.good(inSlot(w, slot - 1).id);
    w.now += 4999;
    assert.deepEqual(step(w), { stopped: [], created: [] }, 'not before the monitor period');
    w.now += 1;
    assert.deepEqual(step(w), { stopped: [slot], created: [slot] });
    settled(w);
  }
  assert.equal(w.status()!.state, 'updating');
  w.good(inSlot(w, 3).id);
  w.now += 5000;
  assert.deepEqual(step(w), { stopped: [], created: [] });
  const status = w.status()!;
  assert.equal(status.state, 'completed');
  assert.equal(status.completedAt, w.now);
  assert.equal(status.succeeded.length, 3);
  assert.deepEqual(images(w), ['1:web:v2', '2:web:v2', '3:web:v2']);
  assert.equal(w.types().filter((t) => t === 'update-completed').length, 1);
  settled(w);
});

test('stop-first, parallelism 2 with a delay: two slots at a time, the delay after each batch', () => {
  const w = running(4);
  w.update({ image: 'web:v2', update: policy({ parallelism: 2, delayMs: 10_000 }) });
  assert.deepEqual(step(w), { stopped: [1, 2], created: [1, 2] });
  settled(w);
  w.good(inSlot(w, 1).id);
  w.now += 2000;
  w.good(inSlot(w, 2).id);
  w.now += 3000;
  assert.deepEqual(step(w), { stopped: [], created: [] }, 'slot 2 is not yet a success');
  assert.deepEqual(w.status()!.succeeded, [inSlot(w, 1).id]);
  w.now += 2000;
  assert.deepEqual(step(w), { stopped: [], created: [] }, 'the batch is done: the delay starts');
  assert.equal(w.status()!.batchDoneAt, w.now);
  assert.equal(w.lastPlan!.wakeAt, w.now + 10_000);
  settled(w);
  w.now += 9999;
  assert.deepEqual(step(w), { stopped: [], created: [] });
  w.now += 1;
  assert.deepEqual(step(w), { stopped: [3, 4], created: [3, 4] });
  for (const slot of [3, 4]) w.good(inSlot(w, slot).id);
  w.now += 5000;
  step(w);
  assert.equal(w.status()!.state, 'completed', 'no delay after the last batch');
});

test('parallelism 0 rolls every slot at once', () => {
  const w = running(4);
  w.update({ image: 'web:v2', update: policy({ parallelism: 0 }) });
  assert.deepEqual(step(w), { stopped: [1, 2, 3, 4], created: [1, 2, 3, 4] });
  settled(w);
});

test('start-first: the old task serves until its successor succeeded, then stops', () => {
  const w = running(2);
  const old = w.live();
  w.update({ image: 'web:v2', update: policy({ order: 'start-first' }) });
  assert.deepEqual(step(w), { stopped: [], created: [1] });
  assert.equal(w.live().filter((t) => t.slot === 1).length, 2, 'old and new side by side');
  settled(w);
  const successor = inSlot(w, 1);
  w.good(successor.id);
  w.now += 4000;
  assert.deepEqual(step(w), { stopped: [], created: [] }, 'the old one stays while the new one is monitored');
  w.now += 1000;
  assert.deepEqual(step(w), { stopped: [1], created: [2] });
  const stopped = w.tasks.find((t) => t.id === old[0]!.id)!;
  assert.equal(stopped.desiredState, 'shutdown');
  assert.equal(stopped.message, `updated: ${successor.id} took over`);
  assert.equal(w.tasks.find((t) => t.id === old[1]!.id)!.desiredState, 'running', 'slot 2 keeps its old task');
  settled(w);
});

test('start-first: a successor that fails is stopped and the old task kept', () => {
  const w = running(2);
  const old = w.live();
  w.update({ image: 'web:v2', update: policy({ order: 'start-first' }) });
  w.pass();
  const successor = inSlot(w, 1);
  w.run(successor.id);
  w.unhealthy(successor.id, 'startup probe failed: HTTP 503');
  w.pass();
  assert.deepEqual(
    w.live().map((t) => t.id),
    old.map((t) => t.id),
  );
  const failed = w.tasks.find((t) => t.id === successor.id)!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.desiredState, 'shutdown');
  assert.equal(w.status()!.state, 'paused');
  assert.deepEqual(w.status()!.failed, [successor.id]);
  settled(w);
});

test('monitor: counted from when the task is both healthy and ready', () => {
  const w = running(2);
  w.update({ image: 'web:v2', update: policy({ monitorMs: 5000 }) });
  w.pass();
  const t = inSlot(w, 1);
  w.run(t.id);
  w.health.set(t.id, { status: 'healthy', healthySince: w.now, wasHealthy: true, ready: false });
  w.now += 3000;
  w.health.set(t.id, {
    status: 'healthy',
    healthySince: w.now - 3000,
    wasHealthy: true,
    ready: true,
    readySince: w.now,
  });
  w.pass();
  assert.equal(w.lastPlan!.wakeAt, w.now + 5000, 'wakes when the monitor period ends');
  w.now += 4999;
  w.pass();
  assert.deepEqual(w.status()!.succeeded, [], 'healthy for 8s, but ready for less than the monitor period');
  w.now += 1;
  w.pass();
  assert.deepEqual(w.status()!.succeeded, [t.id]);
  assert.ok(w.events.some((e) => e.type === 'update-progress' && e.taskId === t.id && /succeeded/.test(e.reason)));
});

test('deadline: a task never healthy fails after its start period and enough intervals; none while it pulls', () => {
  const check = {
    handler: { kind: 'tcp' as const, port: 80 },
    intervalMs: 1000,
    timeoutMs: 500,
    retries: 3,
    successThreshold: 1,
    startPeriodMs: 2000,
  };
  const w = running(2, { health: { check } });
  w.update({ image: 'web:v2', update: policy({ monitorMs: 1000 }) });
  w.pass();
  const t = inSlot(w, 1);
  w.observe(t.id, { state: 'preparing', message: 'pulling 10%' });
  w.now += 600_000;
  w.pass();
  assert.equal(w.status()!.failed.length, 0, 'no deadline while the image is pulled');
  w.run(t.id);
  w.health.set(t.id, { status: 'starting', wasHealthy: false, ready: false });
  w.pass();
  assert.equal(w.lastPlan!.wakeAt, w.now + 5500, '2s start period + 3 intervals of 1s + a 0.5s timeout');
  w.now += 5499;
  w.pass();
  assert.equal(w.status()!.failed.length, 0);
  w.now += 1;
  w.pass();
  assert.deepEqual(w.status()!.failed, [t.id]);
  const failed = w.tasks.find((x) => x.id === t.id)!;
  assert.equal(failed.state, 'failed');
  assert.match(failed.error, /not healthy and ready within 5s500ms/);
  assert.equal(w.status()!.state, 'paused');
});

test('a new task that crashes fails the update: paused with the reason, and nothing more rolls', () => {
  const w = running(3);
  w.update({ image: 'web:v2' });
  w.pass();
  const t = inSlot(w, 1);
  w.run(t.id);
  w.observe(t.id, { state: 'failed', error: 'container exited with code 1', exitCode: 1 });
  w.pass();
  const status = w.status()!;
  assert.equal(status.state, 'paused');
  assert.equal(status.message, `update paused: task ${t.id} (slot 1) failed: container exited with code 1`);
  assert.deepEqual(status.failed, [t.id]);
  const paused = w.events.find((e) => e.type === 'update-paused');
  assert.equal(paused?.reason, status.message);
  settled(w);
  // The slot is filled again as any slot (on the service's spec); the other slots keep v1.
  for (let i = 0; i < 5; i++) {
    for (const x of w.live()) w.good(x.id);
    w.now += 60_000;
    w.pass();
  }
  assert.deepEqual(images(w), ['1:web:v2', '2:web:v1', '3:web:v1']);
  assert.equal(w.status()!.state, 'paused');
});

test("a node whose engine is in trouble: its new task's failing checks are not judged, its end is", () => {
  const w = running(2);
  w.update({ image: 'web:v2' });
  w.pass();
  const t = inSlot(w, 1);
  w.run(t.id);
  w.nodes = w.nodes.map((n) => ({ ...n, engineTrouble: true }));
  w.unhealthy(t.id, 'exec probe failed: the engine did not answer');
  w.now += 60_000; // past its deadline too
  w.pass();
  assert.equal(w.status()!.state, 'updating', 'probes that cannot reach the engine say nothing about the version');
  assert.deepEqual(w.status()!.failed, []);
  w.observe(t.id, { state: 'failed', error: 'container exited with code 2', exitCode: 2 });
  w.pass();
  assert.equal(w.status()!.state, 'paused');
  assert.match(w.status()!.message, /failed: container exited with code 2$/);
});

test('failure action rollback with no previous spec to return to pauses, and says why', () => {
  const w = running(2);
  w.update({ image: 'web:v2', update: policy({ failureAction: 'rollback' }) });
  w.services = w.services.map(({ previousSpec: _, ...rest }) => rest);
  w.pass();
  const t = inSlot(w, 1);
  w.run(t.id);
  w.observe(t.id, { state: 'failed', error: 'container exited with code 1' });
  w.pass();
  assert.equal(w.status()!.state, 'paused');
  assert.match(w.status()!.message, /\(no previous spec to roll back to\)$/);
  assert.equal(w.services[0]!.spec.image, 'web:v2', 'the spec stays');
  assert.ok(!w.types().includes('rollback-started'));
});

test('pause: a task in flight is still judged, but no new batch starts', () => {
  const w = running(4);
  w.update({ image: 'web:v2', update: policy({ parallelism: 2 }) });
  w.pass();
  const [a, b] = [inSlot(w, 1), inSlot(w, 2)];
  w.run(a.id);
  w.unhealthy(a.id);
  w.run(b.id);
  w.pass();
  assert.equal(w.status()!.state, 'paused');
  assert.match(w.status()!.message, /liveness probe failed: HTTP 500/);
  // Failed by the update only: no health replacement counted, nothing held for the budget.
  assert.equal(w.slot(1)?.failures ?? 0, 0);
  assert.ok(!w.types().includes('replacement-held'));
  w.good(b.id);
  w.now += 5000;
  assert.deepEqual(step(w), { stopped: [], created: [] });
  assert.deepEqual(w.status()!.succeeded, [b.id]);
  w.now += 600_000;
  w.pass();
  assert.deepEqual(images(w).slice(2), ['3:web:v1', '4:web:v1']);
});

test('max failure ratio: failures within it are tolerated, the one over it pauses', () => {
  const w = running(3);
  w.update({ image: 'web:v2', update: policy({ maxFailureRatio: 0.5 }) });
  w.pass();
  w.good(inSlot(w, 1).id);
  w.now += 5000;
  w.pass();
  const second = inSlot(w, 2);
  w.run(second.id);
  w.observe(second.id, { state: 'failed', error: 'boom' });
  assert.deepEqual(step(w).created, [2, 3], 'slot 2 filled again, and slot 3 started: 1 of 2 failed');
  assert.equal(w.status()!.state, 'updating');
  const third = inSlot(w, 3);
  w.run(third.id);
  w.observe(third.id, { state: 'failed', error: 'boom' });
  w.pass();
  assert.equal(w.status()!.state, 'paused', '2 of 3 failed');
  assert.equal(w.status()!.failed.length, 2);
});

test('continue: a failure is counted and the rollout goes on to the end', () => {
  const w = running(3);
  w.update({ image: 'web:v2', update: policy({ failureAction: 'continue' }) });
  w.pass();
  const first = inSlot(w, 1);
  w.run(first.id);
  w.observe(first.id, { state: 'failed', error: 'boom' });
  assert.deepEqual(step(w), { stopped: [2], created: [1, 2] });
  assert.match(w.status()!.message, /continuing/);
  for (const slot of [2, 3]) {
    for (const x of w.live()) w.good(x.id);
    w.now += 5000;
    w.pass();
  }
  assert.equal(w.status()!.state, 'completed');
  assert.equal(w.status()!.message, 'update completed; 1 of 3 new tasks failed');
  assert.deepEqual(images(w), ['1:web:v2', '2:web:v2', '3:web:v2']);
});

test('start-first with continue: a slot whose successor failed keeps its old task and is not tried again', () => {
  const w = running(2);
  w.update({ image: 'web:v2', update: policy({ order: 'start-first', failureAction: 'continue' }) });
  w.pass();
  const successor = inSlot(w, 1);
  w.run(successor.id);
  w.observe(successor.id, { state: 'failed', error: 'boom' });
  assert.deepEqual(step(w).created, [2], 'on to slot 2, not slot 1 again');
  w.good(inSlot(w, 2).id);
  w.now += 5000;
  assert.deepEqual(step(w), { stopped: [2], created: [] });
  assert.equal(w.status()!.state, 'completed');
  assert.equal(w.status()!.message, 'update completed; 1 of 2 new tasks failed');
  assert.deepEqual(images(w), ['1:web:v1', '2:web:v2']);
  settled(w);
});

test('rollback: too many failures swap the spec back and roll every updated slot back', () => {
  const w = running(4);
  const v1Spec = w.services[0]!.spec;
  const untouched = inSlot(w, 4, 'web:v1');
  w.update({ image: 'web:v2', update: policy({ failureAction: 'rollback', maxFailureRatio: 0.5 }) });
  w.pass();
  w.good(inSlot(w, 1).id);
  w.now += 5000;
  w.pass();
  const crash = (slot: number): void => {
    const t = inSlot(w, slot);
    w.run(t.id);
    w.observe(t.id, { state: 'failed', error: `slot ${slot} crashed` });
    w.pass();
  };
  crash(2);
  assert.equal(w.status()!.state, 'updating', '1 of 2 failed: tolerated');
  crash(3);
  const service = w.services[0]!;
  assert.equal(w.status()!.state, 'rollback_started', '2 of 3 failed');
  assert.deepEqual(service.spec, v1Spec);
  assert.equal(service.previousSpec!.image, 'web:v2');
  assert.match(w.status()!.message, /update rolled back: task t\d+ \(slot 3\) failed: slot 3 crashed/);
  assert.ok(w.types().includes('rollback-started'));
  assert.equal(inSlot(w, 3, 'web:v1').createdAt, w.now, 'the failed slot is filled with v1 at once');
  settled(w);
  // The rollback policy (parallelism 1, stop-first) takes slots 1 and 2 back, after slot 3 succeeded.
  const order: number[][] = [];
  for (let i = 0; i < 3; i++) {
    for (const x of w.live()) w.good(x.id);
    w.now += 5000;
    order.push(step(w).stopped);
    settled(w);
  }
  assert.deepEqual(order, [[1], [2], []]);
  assert.equal(w.status()!.state, 'rollback_completed');
  assert.ok(w.types().includes('rollback-completed'));
  assert.deepEqual(images(w), ['1:web:v1', '2:web:v1', '3:web:v1', '4:web:v1']);
  assert.equal(inSlot(w, 4, 'web:v1').id, untouched.id, 'a slot never updated is left alone');
  assert.ok(w.tasks.some((t) => t.spec.image === 'web:v2' && t.message === 'rolled back to the previous spec'));
});

test('service rollback: the updated slots go back with the rollback policy', () => {
  // A rollback uses the rollback policy of the spec it returns to (as Swarm does).
  const w = running(3, { rollback: { ...ROLLBACK_DEFAULTS, parallelism: 0 } });
  w.update({ image: 'web:v2' });
  w.pass();
  w.good(inSlot(w, 1).id);
  w.now += 5000;
  w.pass();
  inSlot(w, 2);
  w.rollback();
  assert.deepEqual(step(w), { stopped: [1, 2], created: [1, 2] });
  for (const x of w.live()) w.good(x.id);
  w.now += 5000;
  w.pass();
  assert.equal(w.status()!.state, 'rollback_completed');
  assert.deepEqual(images(w), ['1:web:v1', '2:web:v1', '3:web:v1']);
});

test('an old task failing its health during a rollout is replaced as today, with the new spec', () => {
  const w = running(3);
  w.update({ image: 'web:v2' });
  w.pass();
  const old = inSlot(w, 3, 'web:v1');
  w.unhealthy(old.id);
  assert.deepEqual(step(w), { stopped: [], created: [3] }, 'failed for health (not stopped by the update), replaced');
  assert.equal(w.tasks.find((t) => t.id === old.id)!.state, 'failed');
  assert.equal(w.slot(3)!.healthFailure, true, 'a health replacement, within the budget');
  assert.equal(inSlot(w, 3).spec.image, 'web:v2');
});

test('a rollout with nothing outdated completes at once', () => {
  const w = running(3);
  const before = w.live().map((t) => t.id);
  w.update({ update: policy({ parallelism: 3 }), rollback: { ...ROLLBACK_DEFAULTS, monitorMs: 1 } });
  assert.deepEqual(w.pass(), []);
  assert.equal(w.status()!.state, 'completed');
  assert.equal(w.status()!.completedAt, w.now);
  assert.deepEqual(
    w.live().map((t) => t.id),
    before,
  );
  settled(w);
});

test('changing only the replica count rolls no task over; the new slot is judged', () => {
  const w = running(3);
  const before = w.live().map((t) => t.id);
  w.update({ replicas: 4, update: policy({ delayMs: 1000 }) });
  assert.deepEqual(step(w), { stopped: [], created: [4] });
  assert.deepEqual(
    w
      .live()
      .map((t) => t.id)
      .slice(0, 3),
    before,
  );
  assert.equal(w.status()!.state, 'updating');
  w.good(inSlot(w, 4, 'web:v1').id);
  w.now += 5000;
  w.pass();
  assert.equal(w.status()!.state, 'completed');
});

test('--force rolls every slot though nothing else changed', () => {
  const w = running(3);
  w.update({ forceUpdate: 1, update: policy({ parallelism: 0 }) });
  assert.deepEqual(step(w), { stopped: [1, 2, 3], created: [1, 2, 3] });
  assert.ok(w.live().every((t) => t.spec.forceUpdate === 1));
  settled(w);
});
