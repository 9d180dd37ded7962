/**
 * A shared dependency that flaps: every replacement passes its first checks and then fails
 * again. The replacement budget must hold through it: at any moment at most the budget of the
 * service's slots are without a running task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, waitFor } from '../helpers/cluster.js';

test('a flapping shared outage never takes more than the budget of replicas down; they recover once it is over', async (t) => {
  const c = await Cluster.create();
  const dep = await mkdtemp(join(tmpdir(), 'warren-dep-'));
  t.after(async () => {
    await c.destroy();
    await rm(dep, { recursive: true, force: true });
  });
  await c.startWorker('w1');
  // Each container marks itself healthy at start (its own file in the shared directory); the
  // outage removes every mark again and again, so each replacement passes its first checks and
  // then fails. `ok` ends the outage for everyone.
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    TEST_IMAGE,
    '--replicas',
    '6',
    '--mount',
    `source=${dep},target=/dep`,
    '--health-cmd',
    'test -f /dep/ok -o -f /dep/$(hostname)',
    '--health-interval',
    '500ms',
    '--health-retries',
    '2',
    '--',
    'sh',
    '-c',
    'touch /dep/$(hostname); exec sleep 100000',
  );
  await waitFor(
    '6 of 6 healthy',
    async () => (await c.live('web')).filter((x) => x.state === 'running' && x.health === 'healthy').length === 6,
    60_000,
  );

  const budget = 2; // a third of 6
  let flapping = true;
  const outage = (async () => {
    for (const deadline = Date.now() + 25_000; Date.now() < deadline;) {
      for (const name of await readdir(dep)) await rm(join(dep, name), { force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
    flapping = false;
  })();
  const samples: number[] = [];
  let heldSeen = 0;
  let failedSeen = 0;
  while (flapping) {
    const tasks = await c.tasks('web');
    const running = tasks.filter((x) => x.desiredState === 'running' && x.state === 'running').length;
    samples.push(running);
    heldSeen = Math.max(heldSeen, (await c.inspect<{ replacement: { held: number } }>('web')).replacement.held);
    failedSeen = Math.max(failedSeen, tasks.filter((x) => x.state === 'failed').length);
  }
  await outage;
  assert.ok(samples.length >= 5, `sampled the service ${samples.length} times`);
  assert.ok(failedSeen >= budget, `the outage did fail tasks (${failedSeen})`);
  assert.ok(heldSeen > 0, 'and held others back');
  assert.ok(Math.min(...samples) >= 6 - budget, `running tasks through the outage: ${samples.join(' ')}`);

  await writeFile(join(dep, 'ok'), '');
  await waitFor(
    '6 of 6 healthy again',
    async () => {
      const live = await c.live('web');
      return (
        live.length === 6 &&
        live.every((x) => x.state === 'running' && x.health === 'healthy' && !(x as { held?: boolean }).held)
      );
    },
    120_000,
    500,
  );
});
