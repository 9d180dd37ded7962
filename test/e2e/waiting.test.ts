/**
 * Commands that wait always come back (DESIGN 11): `service create` and `service scale`, run as a
 * user runs them (waiting), follow only the slots they changed, and stop with exit 1 and the
 * reason when those slots' new tasks keep failing. Real manager, worker, engine and registry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, waitFor } from '../helpers/cluster.js';
import { portFreeOn } from '../helpers/ports.js';

/** Answers every HTTP request with 500, one connection at a time (busybox nc). */
const ANSWERS_500 =
  'while true; do printf "HTTP/1.1 500 Internal Server Error\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n" | nc -l -p 8080; done';

describe('commands that wait come back with the reason', { concurrency: false }, () => {
  let c: Cluster;
  let shared = '';

  before(async () => {
    shared = await mkdtemp(join(tmpdir(), 'warren-waiting-'));
    c = await Cluster.create();
    await c.startWorker('w1');
  });
  after(async () => {
    await c.destroy();
    await rm(shared, { recursive: true, force: true });
  });

  test("the plan's scenario 2 as written: a check answering 500 ends the wait with exit 1 and the reason", async () => {
    const started = Date.now();
    const res = await c.attachedFor(
      120_000,
      ...['service', 'create', 'broken-app', '--image', TEST_IMAGE, '--replicas', '2'],
      ...['--health-http', 'path=/health,port=8080', '--', 'sh', '-c', ANSWERS_500],
    );
    const tookMs = Date.now() - started;
    assert.equal(res.code, 1, `exit 1; stdout: ${res.stdout} stderr: ${res.stderr}`);
    assert.match(
      res.stderr,
      /^error: broken-app: 0\/2 healthy — liveness HTTP GET :8080\/health → 500 \(.+\); the manager keeps replacing them: warren service ps broken-app\n$/,
    );
    assert.match(
      res.stdout,
      /slot \d: task \w+ on .+: running, starting, not ready — last check HTTP 500/,
      'progress carries the last result',
    );
    // Default timing (a check every 30s): the first failure, then the second 30s later.
    assert.ok(tookMs < 60_000, `returned within a minute (took ${tookMs} ms)`);
    await c.ok('service', 'rm', 'broken-app');
  });

  test('an image no registry has: exit 1 with the rejection reason', async () => {
    // A registry that answers refuses the service at create (exit 2); one that is not there is
    // found out by the workers, which reject the tasks.
    const image = `127.0.0.1:${await portFreeOn(['127.0.0.1'])}/nosuch/app:1`;
    const res = await c.attachedFor(120_000, 'service', 'create', 'nosuch', '--image', image, '--', 'true');
    assert.equal(res.code, 1, `exit 1; stdout: ${res.stdout} stderr: ${res.stderr}`);
    assert.match(
      res.stderr,
      new RegExp(
        `^error: nosuch: 0/1 running — rejected twice: registry unreachable: ${image}: .+; the manager tries again`,
      ),
    );
    // Its progress may begin before the first task exists (`no task yet`, on a busy etcd); it shows
    // the tasks made and rejected.
    assert.match(res.stdout, /last task rejected: registry unreachable/, 'tasks were made and rejected');
    await c.ok('service', 'rm', 'nosuch');
  });

  test('scale 3→2 with an unready survivor returns once the removed task stopped', async () => {
    await c.ok(
      ...['service', 'create', 'calm', '--image', TEST_IMAGE, '--replicas', '3'],
      ...['--readiness-cmd', 'test -f /tmp/ready', '--readiness-interval', '500ms', '--readiness-retries', '1'],
      ...['--', 'sh', '-c', 'touch /tmp/ready; exec sleep 3600'],
    );
    const ready = await waitFor('3 ready tasks of calm', async () => {
      const live = await c.live('calm');
      return live.length === 3 && live.every((t) => t.state === 'running' && t.ready) ? live : undefined;
    });
    const survivor = ready.find((t) => t.slot === 1)!;
    await c.exec(survivor.containerId, ['rm', '/tmp/ready']);
    await waitFor('slot 1 not ready', async () => (await c.live('calm')).some((t) => t.slot === 1 && !t.ready));
    const res = await c.attachedFor(120_000, 'service', 'scale', 'calm=2');
    assert.equal(res.code, 0, `exit 0; stdout: ${res.stdout} stderr: ${res.stderr}`);
    assert.match(res.stdout, /^calm: 1 task stopped \(2 replicas\)$/m);
    const live = await c.live('calm');
    assert.deepEqual(live.map((t) => t.slot).sort(), [1, 2]);
    assert.equal(live.find((t) => t.slot === 1)!.ready, false, 'the survivor it did not wait for is still unready');
    await c.ok('service', 'rm', 'calm');
  });

  test('scale up with a new slot failing its check: exit 1 with the reason, the old slot untouched', async () => {
    // Tasks started once `break` exists fail their check; the first one started before it.
    const command = `if [ -f /shared/break ]; then touch /tmp/broken; fi; exec sleep 3600`;
    await c.ok(
      ...['service', 'create', 'grow', '--image', TEST_IMAGE, '--mount', `source=${shared},target=/shared`],
      ...['--health-cmd', 'test ! -f /tmp/broken', '--health-interval', '500ms', '--health-retries', '2'],
      ...['--restart-delay', '200ms', '--', 'sh', '-c', command],
    );
    const [first] = await waitFor('slot 1 healthy', async () => {
      const live = await c.live('grow');
      return live.length === 1 && live[0]!.health === 'healthy' ? live : undefined;
    });
    await writeFile(join(shared, 'break'), '');
    const res = await c.attachedFor(120_000, 'service', 'scale', 'grow=2');
    assert.equal(res.code, 1, `exit 1; stdout: ${res.stdout} stderr: ${res.stderr}`);
    assert.match(
      res.stderr,
      /^error: grow: 1\/2 healthy — liveness exec "test ! -f \/tmp\/broken" → exit code 1 \(\d+ replacements?\); the manager keeps replacing them/,
    );
    assert.match(
      res.stdout,
      /slot 2: .*last (check exit code 1|task failed: liveness probe failed)/,
      'progress carries the last result',
    );
    assert.doesNotMatch(res.stdout, /slot 1:/, 'only the slot it changed is followed');
    const slot1 = (await c.live('grow')).find((t) => t.slot === 1)!;
    assert.equal(slot1.id, first!.id, 'slot 1 kept its task');
    await c.ok('service', 'rm', 'grow');
  });
});
