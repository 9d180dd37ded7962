import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlClient, type wire } from '@warren/api';
import { Cluster, TEST_IMAGE, spawnWarren, waitFor, type TaskJson } from '../helpers/cluster.js';

interface EventJson {
  seq: number;
  time: string;
  type: string;
  service: string;
  taskId: string;
  slot: number;
  node: string;
  reason: string;
  data: Record<string, string>;
}

interface InspectJson {
  tasks: TaskJson[];
  endpoints: Array<{ taskId: string; address: string }>;
  replacement: {
    budget: number;
    inFlight: number;
    held: number;
    correlatedFailure: boolean;
    slots: Array<{ slot: number; failures: number; nextAttemptAt: string | null; gaveUp: boolean }>;
  };
}

const inspect = (c: Cluster, service: string): Promise<InspectJson> => c.inspect<InspectJson>(service);

async function events(c: Cluster, ...args: string[]): Promise<EventJson[]> {
  const out = await c.ok('events', '--since', '10m', '--until', '0s', '--format', 'json', ...args);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EventJson);
}

/** Collects an endpoints watch (ControlService.WatchEndpoints) with the time of each message. */
function watchEndpoints(c: Cluster, service: string) {
  const client = c.controlClient();
  const seen: Array<{ at: number; tasks: string[] }> = [];
  const call = client.WatchEndpoints({ name: service });
  call.on('data', (m: wire.EndpointsMessageOut) =>
    seen.push({ at: Date.now(), tasks: m.endpoints.map((e) => e.taskId) }),
  );
  call.on('error', () => undefined);
  return { seen, close: () => (call.cancel(), client.close()) };
}

test('a liveness failure: the task leaves the endpoints before it is stopped, a replacement takes its slot, and ps tells the story', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '2',
    '--stop-timeout',
    '1s',
    '--health-http',
    'path=/health,port=8080',
    '--health-interval',
    '200ms',
    '--health-retries',
    '2',
    '--',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/www',
  );
  const ready = await waitFor('2 endpoints', async () => {
    const d = await inspect(c, 'web');
    return d.endpoints.length === 2 ? d : undefined;
  });
  const victim = ready.tasks.find((x) => x.slot === 1)!;
  assert.ok(
    ready.endpoints.every((e) => /^\d+\.\d+\.\d+\.\d+$/.test(e.address)),
    'endpoints are container addresses',
  );
  assert.match(await c.ok('service', 'inspect', 'web'), /Endpoints:\s+\d+\.\d+\.\d+\.\d+, \d+\.\d+\.\d+\.\d+/);

  const watch = watchEndpoints(c, 'web');
  t.after(() => watch.close());
  await waitFor('first endpoints message', () => watch.seen.length > 0);
  await c.exec(victim.containerId, ['rm', '/www/health']);

  const replaced = await waitFor('slot 1 replaced and healthy', async () => {
    const d = await inspect(c, 'web');
    const fresh = d.tasks.find(
      (x) => x.slot === 1 && x.id !== victim.id && x.desiredState === 'running' && x.health === 'healthy',
    );
    return fresh && d.endpoints.some((e) => e.taskId === fresh.id) ? fresh : undefined;
  });
  const left = watch.seen.find((m) => !m.tasks.includes(victim.id));
  const stopping = c.workers.get('w1')!.lines.find((l) => l.msg === 'stopping container' && l.task === victim.id);
  assert.ok(left && stopping, 'the task left the endpoints and was stopped');
  assert.ok(
    left.at <= (stopping.time as number),
    `out of the endpoints (${left.at}) before the stop (${stopping.time})`,
  );

  const ps = await c.ok('service', 'ps', 'web');
  assert.match(ps, new RegExp(`${replaced.id.slice(0, 12)}\\s+web\\.1\\s+\\S+\\s+running\\s+running \\(healthy\\)`));
  assert.match(
    ps,
    new RegExp(
      `${victim.id.slice(0, 12)}\\s+\\\\_ web\\.1\\s+\\S+\\s+shutdown\\s+failed .*liveness probe failed: HTTP 404`,
    ),
  );
  const story = (await events(c, '--service', 'web'))
    .filter(
      (e) =>
        (e.taskId === victim.id &&
          (e.type === 'task-failed' || (e.type === 'health-transition' && e.data.phase === 'liveness'))) ||
        (e.taskId === replaced.id && e.type === 'task-replaced'),
    )
    .map((e) => `${e.type}: ${e.reason}`);
  assert.deepEqual(story.slice(-3), [
    'health-transition: liveness healthy → unhealthy: HTTP 404',
    'task-failed: liveness probe failed: HTTP 404',
    `task-replaced: replaces ${victim.id}: liveness probe failed: HTTP 404`,
  ]);
});

test('readiness flapping moves a task out of and back into the endpoints, never replacing it', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '2',
    '--stop-timeout',
    '1s',
    '--readiness-cmd',
    'test -f /tmp/ready',
    '--readiness-interval',
    '200ms',
    '--readiness-retries',
    '1',
    '--',
    'sh',
    '-c',
    'touch /tmp/ready; exec sleep 1000',
  );
  const d = await waitFor('2 endpoints', async () => {
    const x = await inspect(c, 'web');
    return x.endpoints.length === 2 ? x : undefined;
  });
  const watch = watchEndpoints(c, 'web');
  t.after(() => watch.close());
  const flapper = d.tasks[0]!;
  for (let i = 0; i < 2; i++) {
    await c.exec(flapper.containerId, ['rm', '/tmp/ready']);
    await waitFor(
      'out',
      () => watch.seen.at(-1)?.tasks.length === 1 && !watch.seen.at(-1)!.tasks.includes(flapper.id),
    );
    await c.exec(flapper.containerId, ['touch', '/tmp/ready']);
    await waitFor('back', () => watch.seen.at(-1)?.tasks.includes(flapper.id));
  }
  assert.deepEqual(
    watch.seen.map((m) => m.tasks.length),
    [2, 1, 2, 1, 2],
  );
  assert.equal((await c.tasks('web')).length, 2, 'no task was replaced');
});

test('backoff: a slot that keeps failing is replaced at once, then after growing delays', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'crash',
    '--image',
    TEST_IMAGE,
    '--restart-delay',
    '1s',
    '--restart-max-delay',
    '10s',
    '--',
    'sh',
    '-c',
    'sleep 0.2; exit 1',
  );
  const history = await waitFor(
    'four failures of slot 1',
    async () => {
      const e = await events(c, '--service', 'crash');
      return e.filter((x) => x.type === 'task-failed').length >= 4 &&
        e.filter((x) => x.type === 'task-replaced').length >= 4
        ? e
        : undefined;
    },
    40_000,
    250,
  );
  const failed = history.filter((x) => x.type === 'task-failed').map((x) => Date.parse(x.time));
  const replaced = history.filter((x) => x.type === 'task-replaced').map((x) => Date.parse(x.time));
  const waits = replaced.slice(0, 4).map((at, i) => at - failed[i]!);
  // Never before its delay; the upper bounds only allow for a busy machine's timer lag.
  assert.ok(waits[0]! < 1000, `first replacement at once (${waits[0]} ms)`);
  assert.ok(waits[1]! >= 1000 && waits[1]! < 3000, `then after 1 s (${waits[1]} ms)`);
  assert.ok(waits[2]! >= 2000 && waits[2]! < 4000, `then after 2 s (${waits[2]} ms)`);
  assert.ok(waits[3]! >= 4000 && waits[3]! < 6000, `then after 4 s (${waits[3]} ms)`);
  const delayed = history.filter((x) => x.type === 'replacement-delayed').map((x) => Number(x.data.delayMs));
  assert.deepEqual(delayed.slice(0, 3), [1000, 2000, 4000]);

  await waitFor(
    'a slot waiting out its backoff',
    async () => (await inspect(c, 'crash')).replacement.slots[0]?.nextAttemptAt !== null,
  );
  assert.match(await c.ok('service', 'ps', 'crash'), /\(next attempt in [\d.]+m?s, failure \d+ in a row\)/);
  assert.match(
    await c.ok('service', 'inspect', 'crash'),
    /Slot 1:\s+\d+ failures in a row \(container exited with code 1\) \(next attempt in/,
  );
});

test('the replacement budget: 6 replicas whose shared health file goes away are never all killed; at most 2 are replaced at once', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const shared = await mkdtemp(join(tmpdir(), 'warren-shared-'));
  t.after(() => rm(shared, { recursive: true, force: true }));
  await writeFile(join(shared, 'ok'), 'ok');
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'api',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '6',
    '--stop-timeout',
    '1s',
    '--mount',
    `source=${shared},target=/shared`,
    '--health-cmd',
    'test -f /shared/ok',
    '--health-interval',
    '300ms',
    '--health-retries',
    '2',
    '--',
    'sleep',
    '1000',
  );
  const before = await waitFor('6 healthy', async () => {
    const d = await inspect(c, 'api');
    const live = d.tasks.filter((x) => x.desiredState === 'running');
    return live.length === 6 && live.every((x) => x.health === 'healthy') ? live : undefined;
  });

  await rm(join(shared, 'ok'));
  let sawCorrelated = false;
  let maxInFlight = 0;
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    const d = await inspect(c, 'api');
    const originals = d.tasks.filter(
      (x) => before.some((b) => b.id === x.id) && x.state === 'running' && x.desiredState === 'running',
    );
    assert.ok(originals.length >= 4, `never more than 2 of the 6 killed (${originals.length} left)`);
    assert.ok(d.replacement.inFlight <= 2, `at most 2 replaced at once (${d.replacement.inFlight})`);
    maxInFlight = Math.max(maxInFlight, d.replacement.inFlight);
    sawCorrelated ||= d.replacement.correlatedFailure;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(maxInFlight, 2, 'the budget was used');
  assert.ok(sawCorrelated, 'the correlated failure was flagged');
  const text = await c.ok('service', 'inspect', 'api');
  assert.match(
    text,
    /Warning:\s+\d of 6 tasks are failing their health checks together .*a shared dependency may be down\. 4 replacements are held back/,
  );
  assert.match(text, /Replacing:\s+2 of at most 2 at once for health; 4 unhealthy tasks held back/);
  const e = await events(c, '--service', 'api');
  assert.equal(e.filter((x) => x.type === 'correlated-failure').length, 1);
  assert.equal(e.filter((x) => x.type === 'replacement-held').length, 4);

  // The dependency comes back: the held tasks recover in place, the flag clears.
  await writeFile(join(shared, 'ok'), 'ok');
  await waitFor(
    'all healthy again',
    async () => {
      const d = await inspect(c, 'api');
      const live = d.tasks.filter((x) => x.desiredState === 'running');
      return (
        live.length === 6 &&
        live.every((x) => x.health === 'healthy') &&
        !d.replacement.correlatedFailure &&
        d.replacement.held === 0
      );
    },
    30_000,
  );
  const survivors = (await inspect(c, 'api')).tasks.filter(
    (x) => before.some((b) => b.id === x.id) && x.desiredState === 'running',
  );
  assert.equal(survivors.length, 4, 'the four held tasks were never killed');
  assert.ok((await events(c, '--service', 'api')).some((x) => x.type === 'correlated-failure-cleared'));
});

test('manager kill -9 during replacements: nothing lost or duplicated; backoff and health records carry on', async (t) => {
  // Backoffs long enough (10 s after the 3rd failure) that a busy machine restarts the manager
  // and reads the slot before the deadline passes.
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'crash',
    '--image',
    TEST_IMAGE,
    '--restart-delay',
    '5s',
    '--restart-max-delay',
    '60s',
    '--',
    'sh',
    '-c',
    'sleep 0.3; exit 1',
  );
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'true',
    '--health-interval',
    '200ms',
    '--',
    'sleep',
    '1000',
  );
  const before = await waitFor(
    'slot 1 of crash in backoff after 3 failures',
    async () => {
      const d = await inspect(c, 'crash');
      const slot = d.replacement.slots[0];
      return slot && slot.failures >= 3 && slot.nextAttemptAt !== null ? slot : undefined;
    },
    30_000,
  );
  const webBefore = await waitFor('web healthy', async () => {
    const [x] = (await inspect(c, 'web')).tasks;
    return x?.health === 'healthy' && x.results.length >= 3 ? x : undefined;
  });

  await c.manager.kill('SIGKILL');
  await c.startManager();
  const after = (await inspect(c, 'crash')).replacement.slots[0]!;
  assert.equal(after.failures, before.failures, 'failures in a row survive');
  assert.equal(after.nextAttemptAt, before.nextAttemptAt, 'the backoff deadline survives');
  const [webAfter] = (await inspect(c, 'web')).tasks;
  assert.equal(webAfter!.id, webBefore.id);
  assert.equal(webAfter!.health, 'healthy');
  assert.ok(webAfter!.results.length >= 3, 'health records survive');

  // It carries on: the next failure waits longer still, and each slot has one live task.
  await waitFor(
    'another failure after the restart',
    async () => ((await inspect(c, 'crash')).replacement.slots[0]?.failures ?? 0) > before.failures,
    40_000,
    250,
  );
  const tasks = await c.tasks('crash');
  assert.ok(tasks.filter((x) => x.desiredState === 'running').length <= 1, 'never two live tasks in the slot');
  const delays = (await events(c, '--service', 'crash'))
    .filter((x) => x.type === 'replacement-delayed')
    .map((x) => Number(x.data.delayMs));
  assert.ok(delays.at(-1)! > delays.at(-2)!, `the backoff kept growing across the restart (${delays.join(', ')})`);
});

test('warren events streams decisions as they happen and replays them with --since', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  // Following from a moment in the past: nothing from then on can be missed, however late the
  // follower's stream is established.
  const from = new Date().toISOString();
  const follower = spawnWarren(['--manager', c.control, 'events', '--since', from, '--format', 'json']);
  t.after(() => follower.kill());
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--stop-timeout',
    '1s',
    '--health-cmd',
    'test -f /tmp/ok',
    '--health-interval',
    '200ms',
    '--',
    'sh',
    '-c',
    'touch /tmp/ok; exec sleep 1000',
  );
  await c.ok('service', 'create', 'other', '--image', TEST_IMAGE, '--', 'sleep', '1000');
  const healthy = await follower.waitForLog(
    (l) =>
      (l as unknown as EventJson).type === 'health-transition' &&
      (l as unknown as EventJson).reason.includes('→ healthy'),
  );
  const live = follower.lines.map((l) => l as unknown as EventJson);
  for (const type of ['service-created', 'task-created', 'task-running', 'health-transition'])
    assert.ok(
      live.some((e) => e.type === type),
      `${type} streamed`,
    );
  assert.equal((healthy as unknown as EventJson).node, c.nodeName('w1'), 'events name the node');

  const replay = await events(c);
  const fromFollow = replay.filter((e) => e.seq >= live[0]!.seq);
  assert.deepEqual(
    fromFollow.slice(0, live.length).map((e) => e.seq),
    live.map((e) => e.seq),
    'the replay holds what was streamed, in order',
  );
  assert.ok(
    replay.some((e) => e.type === 'node-ready' && e.seq < live[0]!.seq),
    'and what came before it',
  );
  const onlyWeb = await events(c, '--service', 'web');
  assert.ok(onlyWeb.length > 0 && onlyWeb.every((e) => e.service === 'web'));
  const text = await c.ok('events', '--since', '10m', '--until', '0s', '--service', 'other');
  assert.match(text, /^\d{4}-\d\d-\d\dT[\d:.]+Z  service-created\s+other  1 replica of warren-test:latest$/m);

  await c.manager.kill('SIGKILL');
  await c.startManager();
  assert.deepEqual(
    (await events(c)).slice(0, replay.length).map((e) => e.seq),
    replay.map((e) => e.seq),
    'events survive a manager restart',
  );
});
