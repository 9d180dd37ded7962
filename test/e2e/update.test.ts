/**
 * `service update` and `service rollback`, gated by health, end to end: images v1, v2 and a bad
 * one (its health endpoint fails) built here FROM the test image, a published port with a
 * constant stream of requests through it, real containers on two workers.
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, waitFor, type TaskJson } from '../helpers/cluster.js';
import { Load } from '../helpers/load.js';
import { TWO_HOSTS, portFreeOn } from '../helpers/ports.js';
import { buildVersion, removeVersions } from '../helpers/versions.js';

const IMAGE = 'warren-e2e-update';
const HOSTS = Object.values(TWO_HOSTS);

const build = (tag: string, bad = false): Promise<string> => buildVersion(IMAGE, tag, bad);

interface Detail {
  tasks: TaskJson[];
  spec: { image: string };
  updateStatus: { state: string; message: string } | null;
}

describe('service update and rollback, gated by health', { concurrency: false }, () => {
  let c: Cluster;
  const images: Record<string, string> = {};
  /** The published port of `web`. */
  let port = 0;

  before(async () => {
    images.v1 = await build('v1');
    images.v2 = await build('v2');
    images.bad = await build('bad', true);
    c = await Cluster.create();
    for (const [i, host] of HOSTS.entries()) {
      await c.startWorker(`w${i + 1}`, ['--ingress-addr', host, '--advertise-addr', host]);
    }
  });
  after(async () => {
    await c.destroy();
    await removeVersions(Object.values(images));
  });

  const inspect = (name: string): Promise<Detail> => c.inspect<Detail>(name);
  const live = async (name: string): Promise<TaskJson[]> =>
    (await inspect(name)).tasks.filter((t) => t.desiredState === 'running');
  /** Waits until the rollout's state is `state`. */
  const until = (name: string, state: string, timeoutMs = 120_000): Promise<Detail> =>
    waitFor(
      `${name}: update ${state}`,
      async () => {
        const d = await inspect(name);
        return d.updateStatus?.state === state ? d : undefined;
      },
      timeoutMs,
    );
  /** Every live task runs `image`, running and ready. */
  const allOn = (name: string, image: string, n: number): Promise<TaskJson[]> =>
    waitFor(
      `${n} ready tasks of ${name} on ${image}`,
      async () => {
        const d = await inspect(name);
        const tasks = d.tasks.filter((t) => t.desiredState === 'running');
        const on = tasks.filter((t) => t.state === 'running' && t.ready && t.image === image);
        return on.length === n && tasks.length === n ? on : undefined;
      },
      120_000,
    );
  const create = async (name: string, port: number, extra: string[] = []): Promise<void> => {
    await c.ok(
      'service',
      'create',
      name,
      '--image',
      images.v1!,
      '--replicas',
      '3',
      '-p',
      `${port}:80`,
      '--health-http',
      'path=/health,port=80',
      '--health-interval',
      '250ms',
      '--health-retries',
      '2',
      '--update-monitor',
      '1s',
      ...extra,
      '--',
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    );
    await allOn(name, images.v1!, 3);
  };

  test('a rolling update v1 → v2 under load fails no request, one slot at a time, each new task verified', async () => {
    port = await portFreeOn();
    await create('web', port, ['--update-delay', '500ms']);
    const load = new Load(HOSTS.map((h) => `${h}:${port}`)).start();
    try {
      await load.flowing(200);
      // The CLI waits (a pipe: plain lines when something changes) and exits 0 once completed.
      const shown = await c.ok('service', 'update', 'web', '--image', images.v2!);
      assert.match(shown, /^slot 1: task \w+ on \S+: new spec, running, healthy, ready, verifying$/m, shown);
      assert.match(shown, /^verifying: waiting 1s for the new task to stay healthy and ready$/m, shown);
      assert.match(shown, /^1\/3: running the new spec$/m, shown);
      assert.match(shown, /^web: update completed \(3 new tasks succeeded, 0 failed\)$/m, shown);
      assert.equal((await inspect('web')).updateStatus?.state, 'completed');
      await allOn('web', images.v2!, 3);
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    const answers = new Set(load.outcomes.map((o) => o.body));
    assert.ok(answers.has('v1') && answers.has('v2'), [...answers].join(', '));
    assert.equal(load.outcomes.at(-1)!.body, 'v2');
    // One slot at a time: each new task is created only after the previous one ran for the
    // monitor period, plus the delay.
    const lines = await c.ok('events', '--service', 'web', '--since', '10m', '--until', '0s', '--format', 'json');
    const events = lines
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; time: string; taskId: string });
    const started = events.findIndex((e) => e.type === 'update-started');
    assert.ok(started >= 0, 'update-started');
    const created = events.slice(started).filter((e) => e.type === 'task-created');
    const running = events.slice(started).filter((e) => e.type === 'task-running');
    assert.equal(created.length, 3, JSON.stringify(created));
    for (let i = 1; i < created.length; i++) {
      const previousRunning = running.find((r) => r.taskId === created[i - 1]!.taskId);
      assert.ok(previousRunning, `task ${created[i - 1]!.taskId} ran`);
      const gap = Date.parse(created[i]!.time) - Date.parse(previousRunning.time);
      assert.ok(
        gap >= 1000 + 500 - 50,
        `batch ${i + 1} came ${gap} ms after the previous task ran (monitor 1s + delay 0.5s)`,
      );
    }
    assert.ok(events.some((e) => e.type === 'update-completed'));
  });

  test('a bad image with pause: the rollout stops after the first slot, the old tasks keep serving', async () => {
    const update = await c.cli('service', 'update', 'web', '--image', images.bad!);
    assert.equal(update.code, 1, 'the CLI says the update did not complete');
    assert.match(update.stderr, /web: update paused \(0 new tasks succeeded, 1 failed\)/);
    const d = await until('web', 'paused');
    assert.match(d.updateStatus!.message, /health|failed|unhealthy/i);
    const tasks = await live('web');
    const onV2 = tasks.filter((t) => t.image === images.v2 && t.state === 'running' && t.ready);
    assert.equal(onV2.length, 2, 'two slots still run v2');
  });

  test('service rollback returns to the previous spec', async () => {
    const shown = await c.ok('service', 'rollback', 'web');
    assert.match(shown, /^web: rolled back to the previous version \(3 replicas\)$/m, shown);
    assert.doesNotMatch(shown, /rollback_|updating:|completed:/, 'words, not state names');
    await until('web', 'rollback_completed');
    await allOn('web', images.v2!, 3);
    assert.equal((await inspect('web')).spec.image, images.v2);
  });

  test('a bad image with --update-failure-action rollback undoes itself', async () => {
    const update = await c.cli(
      'service',
      'update',
      'web',
      '--image',
      images.bad!,
      '--update-failure-action',
      'rollback',
    );
    assert.notEqual(update.code, 0, 'the CLI says it rolled back');
    await until('web', 'rollback_completed');
    await allOn('web', images.v2!, 3);
  });

  test('manager kill -9 in the middle of a rollout: it resumes, no slot runs two tasks, none lost', async () => {
    await c.ok('service', 'update', 'web', '--image', images.v1!, '--update-monitor', '3s', '--detach');
    await waitFor('the first new task running', async () =>
      (await live('web')).some((t) => t.image === images.v1 && t.state === 'running'),
    );
    await c.manager.kill('SIGKILL');
    await c.startManager();
    await until('web', 'completed', 180_000);
    const tasks = await allOn('web', images.v1!, 3);
    assert.deepEqual(tasks.map((t) => t.slot).sort(), [1, 2, 3]);
  });

  test('start-first under load: each old task serves until its successor succeeded; no request fails', async () => {
    const load = new Load(HOSTS.map((h) => `${h}:${port}`)).start();
    let [fewest, most] = [Infinity, 0];
    let sampling = true;
    const sample = (async () => {
      while (sampling) {
        const tasks = await live('web');
        fewest = Math.min(fewest, tasks.filter((t) => t.state === 'running' && t.ready).length);
        most = Math.max(most, tasks.length);
      }
    })();
    try {
      await load.flowing(200);
      await c.ok('service', 'update', 'web', '--image', images.v2!, '--update-order', 'start-first');
      await allOn('web', images.v2!, 3);
      await load.flowing(200);
    } finally {
      sampling = false;
      await sample;
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.equal(fewest, 3, 'never fewer than 3 ready tasks');
    assert.equal(most, 4, 'a new task ran next to the old one of its slot, never more');
    assert.equal(load.outcomes.at(-1)!.body, 'v2');
  });

  test('bad update flags are refused with exit 2 and change nothing', async () => {
    const before = await inspect('web');
    for (const flags of [
      ['--update-parallelism', '-1'],
      ['--update-failure-action', 'explode'],
      ['--update-max-failure-ratio', '2'],
      ['--rollback-failure-action', 'rollback'],
      ['--replicas', 'many'],
    ]) {
      const res = await c.cli('service', 'update', 'web', ...flags);
      assert.equal(res.code, 2, `${flags.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, new RegExp(flags[0]!.replace(/-/g, '\\-')));
    }
    const after = await inspect('web');
    assert.deepEqual(after.spec, before.spec);
    assert.deepEqual(after.updateStatus, before.updateStatus);
  });
});
