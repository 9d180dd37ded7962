import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, Cluster, TEST_IMAGE, waitFor } from '../helpers/cluster.js';

// Each task says who it is on stdout and counts on stderr, five times a second.
const TALK = 'i=0; while true; do echo "out $i from $HOSTNAME"; echo "err $i" >&2; i=$((i+1)); sleep 0.2; done';

/** `talk.1.<task>@<node> | text` lines by their prefix. */
function byPrefix(text: string): Map<string, string[]> {
  const lines = new Map<string, string[]>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [prefix, rest] = line.split(' | ');
    assert.ok(prefix && rest !== undefined, `a prefixed line: ${line}`);
    lines.set(prefix.trim(), [...(lines.get(prefix.trim()) ?? []), rest]);
  }
  return lines;
}

test('service logs: every task from two nodes, stdout and stderr apart, --tail, --no-task-ids, --timestamps', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.startWorker('w2');
  await c.ok('service', 'create', 'talk', '--image', TEST_IMAGE, '--replicas', '2', '--', 'sh', '-c', TALK);
  const tasks = await c.waitRunning('talk', 2);
  assert.equal(new Set(tasks.map((x) => x.node)).size, 2, 'one task on each node');
  await waitFor('some output from each task', async () => {
    const res = await c.cli('service', 'logs', 'talk');
    return byPrefix(res.stdout).size === 2 && res.stdout.split('\n').length > 10;
  });

  const all = await c.cli('service', 'logs', 'talk');
  assert.equal(all.code, 0, all.stderr);
  const out = byPrefix(all.stdout);
  const err = byPrefix(all.stderr);
  for (const task of tasks) {
    const prefix = `talk.${task.slot}.${task.id}@${task.node}`;
    assert.match(out.get(prefix)?.[0] ?? '', /^out 0 from /, `${prefix} from its first line, on stdout`);
    assert.ok(
      out.get(prefix)!.every((l) => l.startsWith('out ')),
      'stdout holds stdout alone',
    );
    assert.ok(
      err.get(prefix)?.every((l) => l.startsWith('err ')),
      'stderr holds stderr alone',
    );
  }

  const tail = await c.cli('service', 'logs', 'talk', '--tail', '2', '--no-task-ids', '--timestamps');
  assert.equal(tail.code, 0, tail.stderr);
  const tailed = [...byPrefix(tail.stdout), ...byPrefix(tail.stderr)];
  for (const task of tasks) {
    const lines = tailed.filter(([p]) => p === `talk.${task.slot}@${task.node}`).flatMap(([, l]) => l);
    assert.equal(lines.length, 2, `the last 2 lines of slot ${task.slot}: ${JSON.stringify(lines)}`);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z (out|err) \d+/);
  }

  const bad = await c.cli('service', 'logs', 'talk', '--tail', 'many');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--tail.*many/);
  const none = await c.cli('service', 'logs', 'nosuch');
  assert.equal(none.code, 2);
  assert.match(none.stderr, /service or task.*nosuch/);
});

test('service logs --follow: new lines as they come, until the CLI ends it; a replaced task keeps its output', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const worker = await c.startWorker('w1');
  const script = `touch /tmp/ok; ${TALK}`;
  await c.ok(
    'service',
    'create',
    'talk',
    '--image',
    TEST_IMAGE,
    '--health-cmd',
    'test -f /tmp/ok',
    '--health-interval',
    '300ms',
    '--health-retries',
    '1',
    '--stop-timeout',
    '1s',
    '--',
    'sh',
    '-c',
    script,
  );
  const [first] = await c.waitRunning('talk', 1);

  const follow = spawn(
    process.execPath,
    [CLI, '--manager', c.control, 'service', 'logs', 'talk', '-f', '--tail', '1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => follow.kill('SIGKILL'));
  let seen = '';
  follow.stdout.on('data', (b: Buffer) => (seen += b.toString()));
  const exited = new Promise<number | null>((resolve) => follow.on('exit', (code) => resolve(code)));
  // Lines written after the command started come too: the counter goes on past where it began.
  const start = Number(await waitFor('a first line', () => /out (\d+) from/.exec(seen)?.[1]));
  await waitFor('later lines while following', () => seen.includes(`out ${start + 5} from`), 20_000);
  follow.kill('SIGINT');
  assert.equal(await exited, 0, 'Ctrl-C ends --follow with exit 0');
  await worker.waitForLog((l) => l.msg === 'logs request ended' && l.follow === true, 10_000);

  await c.exec(first!.containerId, ['rm', '/tmp/ok']);
  await waitFor('the task failed by its check, and replaced', async () => {
    const ps = await c.tasks('talk');
    return (
      ps.find((x) => x.id === first!.id)?.state === 'failed' &&
      ps.some((x) => x.id !== first!.id && x.state === 'running')
    );
  });
  assert.match(await c.ok('service', 'ps', 'talk'), new RegExp(`its output: warren service logs ${first!.id}`));
  const old = await c.cli('service', 'logs', first!.id.slice(0, 8));
  assert.equal(old.code, 0, old.stderr);
  const lines = byPrefix(old.stdout);
  assert.deepEqual([...lines.keys()], [`talk.1.${first!.id}@${first!.node}`]);
  assert.match(lines.values().next().value![0]!, /^out 0 from /);
});
