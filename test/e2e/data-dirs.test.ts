/**
 * One daemon per data dir, and a worker's identity belongs to one cluster (issue 19): a worker
 * started with another cluster's token on a data dir that joined a cluster before, and a second
 * worker or manager on a data dir in use, refuse at once with one line and exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, runWarren, spawnWarren } from '../helpers/cluster.js';

/** Exactly one line on stderr, `error: …`. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  return lines[0]!;
}

test("a worker whose data dir joined another cluster refuses the new cluster's token at once", async (t) => {
  const first = await Cluster.create();
  t.after(() => first.destroy());
  const worker = await first.startWorker('w1');
  await worker.stop();
  const firstHash = /^WRN-1-([0-9a-f]{64})-/.exec(first.token)![1]!;

  const second = await Cluster.create();
  t.after(() => second.destroy());
  const secondHash = /^WRN-1-([0-9a-f]{64})-/.exec(second.token)![1]!;
  const dir = first.workerDir('w1');
  const started = Date.now();
  const res = await runWarren(
    [
      'worker',
      '--manager',
      second.address,
      '--token',
      second.token,
      '--data-dir',
      dir,
      '--name',
      second.nodeName('w1'),
    ],
    { WARREN_LOG_LEVEL: 'warn' },
  );
  assert.equal(res.code, 1, `exit 1; stderr: ${res.stderr}`);
  const line = oneLine(res.stderr);
  assert.ok(line.startsWith(`error: the data dir ${dir} holds this node's identity in another cluster`), line);
  assert.ok(
    line.includes(firstHash.slice(0, 16)) && line.includes(secondHash.slice(0, 16)),
    `both CA hashes: ${line}`,
  );
  assert.match(line, /remove that directory to join the new cluster, or start this worker with another --data-dir$/);
  assert.ok(Date.now() - started < 20_000, 'refused at once, not after retries');
  assert.doesNotMatch(res.stdout, /manager unreachable; retrying/);
});

test('a second worker on a data dir in use refuses, naming the first one’s pid', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const worker = await c.startWorker('w1');
  const res = await runWarren(
    [
      'worker',
      '--manager',
      c.address,
      '--token',
      c.token,
      '--data-dir',
      c.workerDir('w1'),
      '--name',
      c.nodeName('w2'),
    ],
    { WARREN_LOG_LEVEL: 'warn' },
  );
  assert.equal(res.code, 1, `exit 1; stderr: ${res.stderr}`);
  assert.equal(
    oneLine(res.stderr),
    `error: the data dir ${c.workerDir('w1')} is in use by another worker (pid ${worker.process.pid}): ` +
      'stop it, or give this one its own --data-dir',
  );
  // The first worker goes on, and its data dir is free again once it stopped.
  assert.equal(worker.process.exitCode, null);
  await worker.stop();
  const again = await c.startWorker('w1');
  assert.equal(again.process.exitCode, null);
});

test('a second manager on a data dir in use refuses, naming the first one’s pid', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const second = spawnWarren(['manager', '--data-dir', c.dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  t.after(() => second.kill());
  assert.equal(await second.exited, 1);
  assert.equal(
    oneLine(second.stderr),
    `error: the data dir ${c.dataDir} is in use by another manager (pid ${c.manager.process.pid}): ` +
      'stop it, or give this one --data-dir',
  );
});
