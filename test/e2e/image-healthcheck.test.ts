import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, docker, waitFor } from '../helpers/cluster.js';
import { buildLocalImage } from '../helpers/images.js';

// The task's command makes /tmp/ok; the image's HEALTHCHECK looks for it.
const KEEP_OK = ['--', 'sh', '-c', 'touch /tmp/ok && exec sleep 100000'];

test("an image's HEALTHCHECK is the service's check: Warren runs it (Docker's does not), and replaces a task failing it", async (t) => {
  const image = await buildLocalImage('hc', [
    'HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -f /tmp/ok',
  ]);
  t.after(() => image.remove());
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'hc', '--image', image.ref, '--stop-timeout', '1s', ...KEEP_OK);

  const [first] = await waitFor('the task healthy by the image check', async () => {
    const live = await c.live('hc');
    return live.length === 1 && live[0]!.health === 'healthy' && live[0]!.results.length > 0 ? live : undefined;
  });
  assert.deepEqual(first!.results.at(-1)!.phases, ['liveness', 'readiness']);
  const text = await c.ok('service', 'inspect', 'hc');
  assert.match(text, /Health:\s+1\/1 healthy/);
  assert.match(text, /Check \(liveness\+readiness\):\s+exec .*test -f \/tmp\/ok.*\(the image's HEALTHCHECK\)/);

  // Docker's own check is off in the container: it never runs twice.
  const container = await docker.getContainer(first!.containerId).inspect();
  assert.deepEqual(container.Config.Healthcheck?.Test, ['NONE']);
  assert.equal(container.State.Health, undefined);

  await c.exec(first!.containerId, ['rm', '/tmp/ok']);
  const failed = await waitFor('the task failed by the image check, and replaced', async () => {
    const tasks = await c.tasks('hc');
    const old = tasks.find((x) => x.id === first!.id);
    const next = tasks.find((x) => x.id !== first!.id && x.desiredState === 'running' && x.state === 'running');
    return old?.state === 'failed' && next ? old : undefined;
  });
  assert.match(failed.error, /liveness/);
  const healthyAgain = await waitFor('the replacement healthy', async () => {
    const live = await c.live('hc');
    return live.length === 1 && live[0]!.id !== first!.id && live[0]!.health === 'healthy' ? live[0] : undefined;
  });
  assert.equal(healthyAgain.slot, 1);
});

test('--no-healthcheck: the image check does not run; a check of the service own wins over the image; bad combos exit 2', async (t) => {
  const image = await buildLocalImage('hc', ['HEALTHCHECK --interval=1s --retries=2 CMD test -f /tmp/never']);
  t.after(() => image.remove());
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');

  const bad = await c.cli('service', 'create', 'x', '--image', image.ref, '--no-healthcheck', '--health-cmd', 'true');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--no-healthcheck.*conflicts with the check flags \(--health-cmd\)/);

  // Its image's check would never pass: without it, the task runs and stays ready.
  await c.ok('service', 'create', 'off', '--image', image.ref, '--no-healthcheck', ...KEEP_OK);
  const [off] = await c.waitRunning('off', 1);
  await waitFor('the unchecked task ready', async () => (await c.live('off'))[0]?.ready === true);
  assert.match(await c.ok('service', 'inspect', 'off'), /Health:\s+no checks \(--no-healthcheck: not the image's\)/);

  // A check of its own: the image's is not used.
  await c.ok('service', 'create', 'own2', '--image', image.ref, '--health-cmd', 'true', ...KEEP_OK);
  const [own] = await waitFor('the own check healthy', async () => {
    const live = await c.live('own2');
    return live[0]?.health === 'healthy' ? live : undefined;
  });
  assert.doesNotMatch(await c.ok('service', 'inspect', 'own2'), /image's HEALTHCHECK/);
  const unchecked = await c.live('off');
  assert.equal(unchecked[0]!.id, off!.id, 'the task without checks was never replaced');
  assert.equal(own!.results.at(-1)!.outcome, 'success');

  // update: --no-healthcheck turns the image's check off, --image-healthcheck back on (a rollout each).
  await c.ok('service', 'update', 'off', '--image-healthcheck', '--detach');
  await waitFor('the image check back on and failing', async () => {
    const live = await c.live('off');
    return live.some((x) => x.id !== off!.id && x.results.some((r) => r.outcome === 'failure'));
  });
});
