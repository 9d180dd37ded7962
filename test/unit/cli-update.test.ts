import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ValidationError, type ServiceSpec } from '@warren/core';
import type { wire } from '@warren/api';
import {
  ChangedLines,
  CliError,
  follow,
  followOutcome,
  onSpec,
  progressLines,
  rolloutOutcome,
  rolloutWatch,
  serviceDetailJson,
  serviceDetailText,
  updatedSpec,
  type UpdateOptions,
} from '@warren/cli';
import { NOW, created, fakeManager, parsed, snapshot, status, task, wireSpec } from '../helpers/cli-snapshots.js';

const CURRENT = [
  ...['--replicas', '3', '--env', 'A=1', '--env', 'B=2', '-p', '8080:80', '-p', '8443:443'],
  ...['--health-http', 'path=/health,port=80', '--health-interval', '2s', '--restart-delay', '2s'],
  ...['--update-parallelism', '2', '--update-order', 'start-first', '--rollback-monitor', '10s'],
];

/** `service update web <flags>` applied to the service created with CURRENT. */
async function update(...flags: string[]): Promise<{ current: ServiceSpec; next: ServiceSpec }> {
  const current = await created(...CURRENT);
  const { opts } = await parsed<UpdateOptions>('update', ['web', ...flags]);
  return { current, next: updatedSpec(current, opts) };
}

/** Asserts that `run` rejects with a ValidationError naming `field` and `value`, its reason matching. */
async function refuses(run: () => unknown, field: string, value: unknown, reason: RegExp): Promise<void> {
  await assert.rejects(
    async () => run(),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, `a ValidationError, not ${String(err)}`);
      assert.equal(err.field, field);
      assert.equal(err.value, value);
      assert.match(err.reason, reason);
      return true;
    },
  );
}

test('service update without flags sends the current spec unchanged, its pinned image included', async () => {
  const current = await created(...CURRENT);
  const pinned = { ...current, image: `web@sha256:${'a'.repeat(64)}` };
  const { opts } = await parsed<UpdateOptions>('update', ['web']);
  assert.deepEqual(updatedSpec(pinned, opts), pinned);
  const { current: c, next } = await update('--image', 'web:v2');
  assert.deepEqual(next, { ...c, image: 'web:v2' }, '--image changes the image only');
});

test('--env-add replaces a KEY where it is and adds new ones; --env-rm removes, before the adds', async () => {
  assert.deepEqual((await update('--env-add', 'A=9', '--env-add', 'C=3')).next.env, ['A=9', 'B=2', 'C=3']);
  assert.deepEqual((await update('--env-rm', 'A')).next.env, ['B=2']);
  assert.deepEqual((await update('--env-rm', 'NOPE')).next.env, ['A=1', 'B=2'], 'a KEY not set: nothing to do');
  assert.deepEqual((await update('--env-rm', 'A', '--env-add', 'A=5')).next.env, ['A=5', 'B=2']);
  assert.deepEqual((await update('--env-add', 'B=x=y')).next.env, ['A=1', 'B=x=y'], 'the value may hold "="');
});

test('--publish-add publishes or retargets a port in place; --publish-rm stops one by its published port', async () => {
  const ports = async (...flags: string[]) =>
    (await update(...flags)).next.ports.map((p) => `${p.published}:${p.target}`);
  assert.deepEqual(await ports('--publish-add', 'published=9090,target=90'), ['8080:80', '8443:443', '9090:90']);
  assert.deepEqual(await ports('--publish-add', '8080:81'), ['8080:81', '8443:443'], 'replaced where it was');
  assert.deepEqual(await ports('--publish-rm', '8080'), ['8443:443']);
  assert.deepEqual(await ports('--publish-rm', '8443:443', '--publish-rm', '8080'), []);
  assert.deepEqual(await ports('--publish-rm', '9999'), ['8080:80', '8443:443'], 'not published: nothing to do');
});

test('--force bumps forceUpdate by one and changes nothing else', async () => {
  const { current, next } = await update('--force');
  assert.equal(current.forceUpdate, 0);
  assert.deepEqual(next, { ...current, forceUpdate: 1 });
  const { opts } = await parsed<UpdateOptions>('update', ['web', '--force']);
  assert.equal(updatedSpec(next, opts).forceUpdate, 2);
});

test('policy and restart flags default to the current values, not to Swarm defaults', async () => {
  const { current, next } = await update('--update-delay', '3s', '--rollback-failure-action', 'continue');
  assert.deepEqual(next.update, { ...current.update, delayMs: 3000 });
  assert.equal(next.update.parallelism, 2, 'the current parallelism, not 1');
  assert.equal(next.update.order, 'start-first');
  assert.deepEqual(next.rollback, { ...current.rollback, failureAction: 'continue' });
  assert.equal(next.rollback.monitorMs, 10_000);
  const restart = await update('--restart-max-attempts', '4');
  assert.deepEqual(restart.next.restart, { ...restart.current.restart, maxAttempts: 4 });
  assert.equal(restart.next.restart.delayMs, 2000);
  const other = await update('--replicas', '5', '--stop-timeout', '3s', '--pull', 'always');
  assert.deepEqual(other.next, { ...other.current, replicas: 5, stopTimeoutMs: 3000, pull: 'always' });
});

test('health flags: a check replaces that probe (timing kept), timing alone retimes it, --no-* removes', async () => {
  const { current, next } = await update('--health-tcp', 'port=81');
  assert.deepEqual(next.health.check, { ...current.health.check!, handler: { kind: 'tcp', port: 81 } });
  assert.equal(next.health.check!.intervalMs, 2000, 'the current interval, not the default');
  const retimed = await update('--health-retries', '5');
  assert.deepEqual(retimed.next.health.check, { ...retimed.current.health.check!, retries: 5 });
  const startup = await update('--startup-tcp', 'port=80');
  assert.deepEqual(startup.next.health.check, startup.current.health.check, 'the other probes are kept');
  assert.equal(startup.next.health.startup!.intervalMs, 30_000, 'a new probe takes the defaults');
  assert.deepEqual((await update('--no-health')).next.health, {});
  const all = await update('--startup-tcp', 'port=80');
  const { opts } = await parsed<UpdateOptions>('update', ['web', '--no-healthcheck']);
  assert.deepEqual(updatedSpec(all.next, opts).health, {}, '--no-healthcheck removes every probe');
});

test('bad update flags are refused with a ValidationError naming the flag, the value and why', async () => {
  await refuses(() => update('--replicas', 'many'), '--replicas', 'many', /whole number/);
  await refuses(() => update('--update-parallelism', '-1'), '--update-parallelism', -1, /from 0 \(all\)/);
  await refuses(() => update('--update-failure-action', 'explode'), '--update-failure-action', 'explode', /pause/);
  await refuses(() => update('--update-max-failure-ratio', '2'), '--update-max-failure-ratio', 2, /0 to 1/);
  await refuses(() => update('--rollback-failure-action', 'rollback'), '--rollback-failure-action', 'rollback', /use/);
  await refuses(() => update('--env-add', 'NOVALUE'), '--env-add', 'NOVALUE', /KEY=VALUE/);
  await refuses(() => update('--env-rm', 'A=1'), '--env-rm', 'A=1', /as KEY/);
  await refuses(() => update('--publish-add', '8080'), '--publish-add', '8080', /published=PORT,target=PORT/);
  await refuses(
    () => update('--publish-add', '9090:1', '--publish-add', '9090:2'),
    '--publish-add',
    '9090:2',
    /twice/,
  );
  await refuses(() => update('--publish-rm', 'http'), '--publish-rm', 'http', /name the published port/);
  await refuses(() => update('--image', 'Web App'), '--image', 'Web App', /not an image reference/);
  await refuses(() => update('--stop-timeout', 'soon'), '--stop-timeout', 'soon', /not a duration/);
  await refuses(() => update('--liveness-interval', '1s'), '--liveness-interval', '1s', /needs a check/);
  await refuses(() => update('--no-health', '--health-retries', '2'), '--health-retries', '2', /--no-health/);
  await refuses(() => update('--no-healthcheck', '--startup-tcp', 'port=1'), '--startup-tcp', 'port=1', /removes/);
});

test('create, scale, update and rollback wait unless --detach (as docker service does); --wait-timeout 1h', async () => {
  const flags = async (sub: string, args: string[]) =>
    (await parsed<{ detach?: boolean; waitTimeout: string }>(sub, args)).opts;
  assert.equal((await flags('update', ['web'])).waitTimeout, '1h');
  assert.equal((await flags('update', ['web'])).detach, undefined);
  assert.equal((await flags('update', ['web', '--detach'])).detach, true);
  assert.equal((await flags('rollback', ['web', '-d'])).detach, true);
  assert.equal((await flags('scale', ['web=2'])).detach, undefined);
  assert.equal((await flags('scale', ['web=2', '-d'])).detach, true);
  assert.equal((await flags('create', ['web', '--image', 'x'])).detach, undefined);
  assert.equal((await flags('create', ['web', '--image', 'x', '--detach', '--wait-timeout', '5m'])).waitTimeout, '5m');
  await assert.rejects(() => flags('create', ['web', '--image', 'x', '--wait']), /unknown option '--wait'/);
});

// Progress: ServiceDetail snapshots of a rollout web:v1 → web:v2, 3 replicas, parallelism 1, monitor 5s.

/** The rollout, one snapshot after another, each with the time the CLI looked. */
async function rollout(): Promise<Array<{ detail: wire.ServiceDetailOut; now: number }>> {
  const [v1, v2] = [await wireSpec('web:v1'), await wireSpec('web:v2')];
  const old = [1, 2, 3].map((slot) => task(`old${slot}`, slot, v1));
  const going = status('updating', 'update in progress');
  const stopped = (t: wire.TaskOut) => ({ ...t, desiredState: 'shutdown', state: 'shutdown' });
  const fresh = (slot: number, over: Partial<wire.TaskOut>) =>
    task(`new${slot}`, slot, v2, { createdAtMs: NOW, nodeName: `w${slot}`, ...over });
  const good = (slot: number, at: number) => fresh(slot, { startedAtMs: at });
  return [
    { detail: snapshot(v2, going, old), now: NOW },
    {
      detail: snapshot(v2, going, [
        stopped(old[0]!),
        fresh(1, { state: 'preparing', message: 'pulling 42% of 3.1 MB', nodeName: '', healthStatus: 'none' }),
        ...old.slice(1),
      ]),
      now: NOW + 500,
    },
    {
      detail: snapshot(v2, going, [
        fresh(1, { startedAtMs: NOW + 900, healthStatus: 'starting', ready: false }),
        ...old.slice(1),
      ]),
      now: NOW + 1000,
    },
    { detail: snapshot(v2, going, [good(1, NOW + 1000), ...old.slice(1)]), now: NOW + 2000 },
    { detail: snapshot(v2, going, [good(1, NOW + 1000), ...old.slice(1)]), now: NOW + 4000 },
    { detail: snapshot(v2, going, [good(1, NOW + 1000), ...old.slice(1)]), now: NOW + 6500 },
    {
      detail: snapshot(
        v2,
        status('completed', 'update completed', 3),
        [1, 2, 3].map((n) => good(n, NOW)),
      ),
      now: NOW + 30_000,
    },
  ];
}

test('progress on a pipe: plain lines, printed only when something changed', async () => {
  const shown = new ChangedLines();
  const printed = (await rollout()).map(({ detail, now }) =>
    shown.next(progressLines(detail, { following: 'update', tty: false, now })),
  );
  assert.deepEqual(printed, [
    [
      'update in progress',
      'slot 1: task old100000000 on w1: old spec, running, healthy, ready',
      'slot 2: task old200000000 on w2: old spec, running, healthy, ready',
      'slot 3: task old300000000 on w3: old spec, running, healthy, ready',
      '0/3: running the new spec',
    ],
    ['slot 1: task new100000000 on -: new spec, preparing (pulling 42% of 3.1 MB)'],
    ['slot 1: task new100000000 on w1: new spec, running, starting, not ready'],
    [
      'slot 1: task new100000000 on w1: new spec, running, healthy, ready, verifying',
      'verifying: waiting 5s for the new task to stay healthy and ready',
    ],
    [],
    ['slot 1: task new100000000 on w1: new spec, running, healthy, ready', '1/3: running the new spec'],
    [
      'update completed',
      'slot 2: task new200000000 on w2: new spec, running, healthy, ready',
      'slot 3: task new300000000 on w3: new spec, running, healthy, ready',
      '3/3: running the new spec',
    ],
  ]);
});

test('progress on a TTY: bars and the time left to verify, redrawn as a whole', async () => {
  const steps = await rollout();
  const frame = (i: number) =>
    progressLines(steps[i]!.detail, { following: 'update', tty: true, now: steps[i]!.now }).map((l) => l.text);
  assert.deepEqual(frame(3), [
    'update in progress',
    'slot 1  [================>   ]  new100000000  w1  new spec, running, healthy, ready, verifying',
    'slot 2  [                    ]  old200000000  w2  old spec, running, healthy, ready',
    'slot 3  [                    ]  old300000000  w3  old spec, running, healthy, ready',
    '0/3: running the new spec',
    'verifying: 4s left for the new task to stay healthy and ready',
  ]);
  assert.match(frame(4)[5]!, /^verifying: 2s left/);
  assert.match(frame(5)[1]!, /^slot 1 {2}\[={20}\] {2}new1/);
});

test('following ends when the rollout leaves updating/rollback_started; the exit depends on how', async () => {
  const steps = await rollout();
  for (const step of steps.slice(0, -1)) assert.equal(followOutcome(step.detail, 'update'), undefined);
  assert.deepEqual(followOutcome(steps.at(-1)!.detail, 'update'), {
    ok: true,
    message: 'web: update completed (3 new tasks succeeded, 0 failed)',
  });
  const ends = (command: 'update' | 'rollback', state: string) =>
    rolloutOutcome('web', command, status(state, 'new task web.1 failed: liveness probe failed', 0, 1), 3);
  assert.equal(ends('update', 'completed').ok, true);
  assert.deepEqual(ends('rollback', 'rollback_completed'), {
    ok: true,
    message: 'web: rolled back to the previous version (3 replicas)',
  });
  for (const [command, state, words] of [
    ['update', 'paused', /^web: update paused \(0 new tasks succeeded, 1 failed\): new task web\.1 failed/],
    ['update', 'rollback_completed', /^web: the update was rolled back .*: new task web\.1 failed/],
    ['update', 'rollback_paused', /^web: rollback paused/],
    ['rollback', 'rollback_paused', /^web: rollback paused/],
    ['rollback', 'paused', /^web: update paused/],
  ] as const) {
    const outcome = ends(command, state);
    assert.equal(outcome.ok, false, `${command} ending ${state} exits 1`);
    assert.match(outcome.message, words);
  }
  const v2 = await wireSpec('web:v2');
  const back = snapshot(v2, status('rollback_started', 'rolling back'), []);
  assert.equal(followOutcome(back, 'update'), undefined, 'an automatic rollback is still followed');
});

test('service inspect: the update status and the previous spec, in text and JSON', async () => {
  const [v1, v2] = [await wireSpec('web:v1'), await wireSpec('web:v2', '--env', 'X=1')];
  const detail = snapshot(v2, status('paused', 'new task web.1 failed: liveness probe failed', 1, 1), []);
  detail.service!.previousSpec = v1;
  const text = serviceDetailText(detail, NOW + 60_000);
  assert.match(
    text,
    /^Update status: +update paused; started 1m ago, ended 1m ago; 1 new task succeeded, 1 failed\n/m,
  );
  assert.match(text, /\n +new task web\.1 failed: liveness probe failed\n/);
  assert.match(text, /^Previous spec: +yes, it differs in image \(web:v1\), env; warren service rollback web/m);
  const json = serviceDetailJson(detail, NOW);
  assert.deepEqual(json.updateStatus, {
    state: 'paused',
    startedAt: new Date(NOW - 10_000).toISOString(),
    completedAt: new Date(NOW).toISOString(),
    message: 'new task web.1 failed: liveness probe failed',
    succeeded: 1,
    failed: 1,
  });
  assert.equal(json.previousSpec!.image, 'web:v1');
  const never = snapshot(v1, null, []);
  assert.doesNotMatch(serviceDetailText(never), /Update status|Previous spec/);
  assert.equal(serviceDetailJson(never).updateStatus, null);
  assert.equal(serviceDetailJson(never).previousSpec, null);
});

test('a task runs the new spec when its spec equals the service spec, replicas and policies aside', async () => {
  const v1 = await wireSpec('web:v1');
  const t = task('t1', 1, v1);
  assert.ok(
    onSpec(t, await wireSpec('web:v1', '--replicas', '7', '--update-delay', '9s', '--rollback-order', 'start-first')),
  );
  assert.ok(!onSpec(t, await wireSpec('web:v2')));
  assert.ok(!onSpec(t, await wireSpec('web:v1', '--env', 'A=1')));
  assert.ok(!onSpec(t, { ...v1, forceUpdate: 1 }), '--force rolls the task over');
});

test('progress of a rollback, and of a start-first slot whose old task still serves', async () => {
  // Verified for the rollback policy's monitor (10s), not the update policy's (5s).
  const [v1, v2] = [await wireSpec('web:v1', '--rollback-monitor', '10s'), await wireSpec('web:v2')];
  const tasks = [
    task('bad1', 1, v2),
    task('back1', 1, v1, { createdAtMs: NOW, startedAtMs: NOW - 1000 }),
    task('ok2', 2, v1),
    task('ok3', 3, v1),
  ];
  const lines = progressLines(snapshot(v1, status('rollback_started', 'manually requested rollback'), tasks), {
    following: 'rollback',
    tty: false,
    now: NOW,
  });
  assert.deepEqual(
    lines.map((l) => l.text),
    [
      'manually requested rollback',
      'slot 1: task back10000000 on w1: rolled back, running, healthy, ready, verifying, old task still running',
      'slot 2: task ok2000000000 on w2: rolled back, running, healthy, ready',
      'slot 3: task ok3000000000 on w3: rolled back, running, healthy, ready',
      '2/3: rolled back',
      'verifying: waiting 10s for the rolled-back task to stay healthy and ready',
    ],
  );
});

async function followed(snapshots: wire.ServiceDetailOut[], timeoutMs = 10_000) {
  const manager = await fakeManager(snapshots);
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  try {
    const run = follow(manager.cmd, 'web', { watch: rolloutWatch('update'), timeoutMs, intervalMs: 10, out });
    const error = await run.then(
      () => undefined,
      (err: unknown) => err,
    );
    return { error, lines: text.trimEnd().split('\n') };
  } finally {
    manager.close();
  }
}

test('follow: polls the manager, prints plain lines on a pipe, resolves when the update completed', async () => {
  const steps = (await rollout()).map((s) => s.detail);
  const { error, lines } = await followed([steps[0]!, steps[0]!, steps[6]!]);
  assert.equal(error, undefined);
  assert.equal(
    lines.filter((l) => l === '0/3: running the new spec').length,
    1,
    'an unchanged snapshot prints nothing',
  );
  assert.equal(lines.at(-2), '3/3: running the new spec');
  assert.equal(lines.at(-1), 'web: update completed (3 new tasks succeeded, 0 failed)');
});

test('follow: a paused or rolled-back update is a CliError with exit code 1 and the reason', async () => {
  const v2 = await wireSpec('web:v2');
  const paused = snapshot(v2, status('paused', 'new task web.1 failed: startup probe failed', 0, 1), []);
  const { error, lines } = await followed([snapshot(v2, status('updating', 'update in progress'), []), paused]);
  assert.ok(error instanceof CliError, String(error));
  assert.equal(error.exitCode, 1);
  assert.equal(
    error.message,
    'web: update paused (0 new tasks succeeded, 1 failed): new task web.1 failed: startup probe failed',
  );
  assert.ok(lines.includes('new task web.1 failed: startup probe failed'), lines.join('\n'));
  assert.ok(!lines.some((l) => /paused:|rollback_|updating:/.test(l)), `no state names: ${lines.join('\n')}`);
});

test('follow: gives up after --wait-timeout with exit code 1, saying the rollout goes on', async () => {
  const steps = (await rollout()).map((s) => s.detail);
  const { error } = await followed([steps[0]!], 100);
  assert.ok(error instanceof CliError, String(error));
  assert.equal(error.exitCode, 1);
  assert.match(error.message, /^web: still not done after 100ms \(0\/3: running the new spec\); it goes on/);
});
