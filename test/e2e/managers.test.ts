/**
 * Managers that survive the loss of one (DESIGN 9), end to end: three managers on three real etcd
 * members, two workers (each its own loopback "host") that know all three, real containers, and
 * a constant stream of requests through a published port while the leader is killed, frozen,
 * and etcd loses a member and then its quorum.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_IMAGE, docker, runWarren, waitFor, type TaskJson } from '../helpers/cluster.js';
import { HaCluster } from '../helpers/ha-cluster.js';
import { Load } from '../helpers/load.js';
import { TWO_HOSTS, portFreeOn } from '../helpers/ports.js';

const HOSTS = Object.values(TWO_HOSTS);

/** httpd answering `/` with the host name; the check passes while /www/alive exists. */
const SERVE = 'hostname > /www/index.html; touch /www/alive; exec httpd -f -p 80 -h /www';

describe('managers on etcd: one leads, another takes over', { concurrency: false }, () => {
  let c: HaCluster;
  let port = 0;

  before(async () => {
    c = await HaCluster.create({ managers: 3, members: 3 });
    for (const [i, host] of HOSTS.entries()) {
      await c.startWorker(`w${i + 1}`, ['--ingress-addr', host, '--advertise-addr', host]);
    }
    port = await portFreeOn(HOSTS);
    await c.ok(
      ...['service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '3', '-p', `${port}:80`],
      ...['--health-cmd', 'test -f /www/alive', '--health-interval', '500ms', '--health-retries', '2'],
      ...['--stop-timeout', '1s', '--', 'sh', '-c', SERVE],
    );
    await healthy('web', 3);
  });
  after(() => c?.destroy());

  const tasks = async (name: string): Promise<TaskJson[]> =>
    JSON.parse(await c.ok('service', 'ps', name, '--format', 'json')) as TaskJson[];
  const healthy = (name: string, n: number, timeoutMs = 60_000): Promise<TaskJson[]> =>
    waitFor(
      `${n} healthy tasks of ${name}`,
      async () => {
        const live = (await tasks(name)).filter((t) => t.desiredState === 'running');
        return live.length === n && live.every((t) => t.state === 'running' && t.health === 'healthy')
          ? live
          : undefined;
      },
      timeoutMs,
      200,
    );
  /** Running containers per slot of `service`, as Docker sees them. */
  const perSlot = async (service: string): Promise<Map<string, number>> => {
    const list = await docker.listContainers({ filters: { label: [`warren.service.name=${service}`] } });
    const counts = new Map<string, number>();
    for (const ct of list) {
      if (!c.nodeIds.has(ct.Labels['warren.node.id'] ?? '')) continue;
      const slot = ct.Labels['warren.task.slot'] ?? '?';
      counts.set(slot, (counts.get(slot) ?? 0) + 1);
    }
    return counts;
  };
  const targets = (): string[] => HOSTS.map((h) => `${h}:${port}`);

  test('one manager leads; any manager answers the CLI; they share one CA; workers joined through any', async () => {
    const info = await c.managersInfo(1);
    assert.equal(info.managers.length, 3);
    assert.equal(info.managers.filter((m) => m.leader).length, 1, 'exactly one leader');
    assert.equal(info.etcd.filter((e) => e.healthy).length, 3, 'etcd 3/3');
    const hashes = new Set(c.managers.map((m) => m.daemon.lines.find((l) => l.msg === 'manager started')!.caHash));
    assert.equal(hashes.size, 1, 'one CA');
    // A follower takes a write and forwards it; the leader has it.
    const leader = await c.leader();
    const follower = [0, 1, 2].find((i) => i !== leader)!;
    const res = await runWarren([
      ...['--manager', c.managers[follower]!.socket, 'service', 'create', 'side', '--detach'],
      ...['--image', TEST_IMAGE, '--', 'sleep', '100000'],
    ]);
    assert.equal(res.code, 0, res.stderr);
    const ls = await runWarren(['--manager', c.managers[leader]!.socket, 'service', 'ls']);
    assert.match(ls.stdout, /\bside\b/);
    const nodes = await runWarren(['--manager', c.managers[follower]!.socket, 'node', 'ls']);
    assert.match(
      nodes.stdout,
      /^Managers: 3, leader \w+ at 127\.0\.0\.1:\d+; etcd 3\/3 members healthy$/m,
      nodes.stdout,
    );
    await c.ok('service', 'rm', 'side');
  });

  test('kill -9 the leader under load: another leads, a task broken meanwhile is replaced, nothing else moves, no request fails', async () => {
    const before = await healthy('web', 3);
    const load = new Load(targets()).start();
    try {
      await load.flowing();
      // An acknowledged write just before the kill is there after it.
      await c.ok('service', 'create', 'acked', '--image', TEST_IMAGE, '--', 'sleep', '100000');
      const old = await c.leader();
      const killedAt = Date.now();
      await c.managers[old]!.daemon.kill('SIGKILL');
      // A command given during the election waits for the next leader: it neither fails nor hangs.
      const amid = c.cli('service', 'create', 'amid', '--detach', '--image', TEST_IMAGE, '--', 'sleep', '100000');
      await new Promise((r) => setTimeout(r, 500));
      const victim = before[0]!;
      await docker
        .getContainer(victim.containerId)
        .exec({ Cmd: ['rm', '/www/alive'] })
        .then((e) => e.start({}));
      const next = await c.leader(30_000, (i) => i !== old);
      const tookMs = Date.now() - killedAt;
      assert.notEqual(next, old);
      const after = await waitFor(
        'the broken task replaced and its successor healthy',
        async () => {
          const live = await healthy('web', 3, 5000).catch(() => undefined);
          return live && !live.some((t) => t.id === victim.id) ? live : undefined;
        },
        60_000,
      );
      const kept = before.filter((t) => t.id !== victim.id).map((t) => t.id);
      assert.deepEqual(
        after
          .filter((t) => kept.includes(t.id))
          .map((t) => t.id)
          .sort(),
        [...kept].sort(),
        'the failover itself stopped, moved or doubled no task',
      );
      assert.ok((await tasks('acked')).length > 0, 'the acknowledged write is there');
      const amidRes = await amid;
      assert.equal(amidRes.code, 0, `a command during the election: ${amidRes.stderr}`);
      assert.ok((await tasks('amid')).length > 0, 'and its write is there');
      await load.flowing(100);
      assert.deepEqual(load.failures(), [], `no request failed (new leader after ${tookMs} ms)`);
    } finally {
      await load.stop();
      await c.startManager(await leaderlessIndex());
    }
    await c.ok('service', 'rm', 'acked', 'amid');
  });

  /** The manager that is not running (the one killed), to start again. */
  async function leaderlessIndex(): Promise<number> {
    return c.managers.findIndex((m) => m.daemon.process.exitCode !== null || m.daemon.process.signalCode !== null);
  }

  test('a rollout in progress goes on after the leader is killed', async () => {
    const before = (await healthy('web', 3)).map((t) => t.id);
    await c.ok(
      ...['service', 'update', 'web', '--env-add', 'VERSION=2', '--update-parallelism', '1'],
      ...['--update-monitor', '2s', '--detach'],
    );
    await waitFor('the first slot to roll over', async () =>
      (await tasks('web')).some((t) => before.includes(t.id) && t.desiredState === 'shutdown'),
    );
    const old = await c.leader();
    await c.managers[old]!.daemon.kill('SIGKILL');
    await c.leader(30_000, (i) => i !== old);
    await waitFor(
      'the update completed',
      async () => {
        const detail = JSON.parse(await c.ok('service', 'inspect', 'web', '--format', 'json')) as {
          updateStatus: { state: string } | null;
        };
        return detail.updateStatus?.state === 'completed';
      },
      120_000,
      500,
    );
    const live = await healthy('web', 3);
    assert.deepEqual(live.map((t) => t.slot).sort(), [1, 2, 3], 'one task per slot');
    await c.startManager(await leaderlessIndex());
  });

  test('SIGSTOP the leader for 10 s: its successor leads, the thawed one steps down, no slot runs twice', async () => {
    const before = await healthy('web', 3);
    const old = await c.leader();
    const frozen = c.managers[old]!;
    const frozenAt = Date.now();
    let twice = '';
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const [slot, n] of await perSlot('web')) if (n > 1) twice ||= `slot ${slot} ran ${n} containers`;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      frozen.daemon.process.kill('SIGSTOP');
      await c.leader(30_000, (i) => i !== old);
      await new Promise((r) => setTimeout(r, 10_000));
      frozen.daemon.process.kill('SIGCONT');
      await frozen.daemon.waitForLog((l) => l.msg === 'stopped leading', 30_000);
      // The thawed manager follows; the cluster goes on as it was.
      await waitFor('the thawed manager follows', async () =>
        (await c.managersInfo(old)).managers.some((m) => m.leader && m.id !== frozen.id),
      );
      const after = await healthy('web', 3);
      const events = await c.ok('events', '--since', new Date(frozenAt).toISOString(), '--until', '0s');
      assert.deepEqual(
        after.map((t) => t.id).sort(),
        before.map((t) => t.id).sort(),
        `no task moved; events: ${events}`,
      );
      assert.ok(
        !frozen.daemon.lines.some((l) => l.msg === 'request failed' || l.msg === 'reconcile pass failed'),
        'it tried no write that failed on the fence, or none at all',
      );
    } finally {
      frozen.daemon.process.kill('SIGCONT');
      sampling = false;
      await sampler;
    }
    assert.equal(twice, '', 'no slot ever ran twice');
  });

  test('etcd loses a member: nothing changes; loses its quorum: "no quorum", tasks and ports go on; back: no node declared down', async () => {
    const before = await healthy('web', 3);
    const leader = await c.leader();
    // The hardest member to lose: etcd's own leader (etcd answers nothing until it elects another).
    const lost = await c.etcd.leaderIndex();
    const mark = c.managers[leader]!.daemon.lines.length;
    await c.etcd.kill(lost);
    await c.ok('service', 'create', 'during', '--image', TEST_IMAGE, '--', 'sleep', '100000');
    assert.equal(await c.leader(), leader, 'the same manager leads');
    assert.ok(
      !c.managers[leader]!.daemon.lines.slice(mark).some((l) => l.msg === 'stopped leading'),
      "its term did not end for etcd's election",
    );
    const since = Date.now();
    const second = [0, 1, 2].find((i) => i !== lost)!;
    await c.etcd.kill(second);
    const refused = await waitFor(
      'the CLI to say no quorum',
      async () => {
        const res = await c.cli('service', 'ls');
        return res.code === 1 && /no quorum/.test(res.stderr) ? res : undefined;
      },
      30_000,
      200,
    );
    assert.equal(refused.stderr.split('\n').filter(Boolean).length, 1, refused.stderr);
    const ready = await fetch(`http://${c.managers[leader]!.http}/health/ready`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /no quorum/);
    // The status page says so too (its first view, as the page draws it).
    const page = await waitFor('the status page to say no quorum', async () => {
      const res = await fetch(`http://${c.managers[leader]!.http}/api/v1/overview`);
      const view = (await res.json()) as { managers: { leader: string; message: string } };
      return view.managers.leader === '' && /no quorum/.test(view.managers.message) ? view : undefined;
    });
    assert.equal(page.managers.leader, '');
    // Workers keep their tasks, and the published port serves.
    const load = new Load(targets()).start();
    try {
      await load.flowing(50);
      assert.deepEqual(load.failures(), [], 'the published port serves without quorum');
    } finally {
      await load.stop();
    }
    assert.equal(
      [...(await perSlot('web')).values()].reduce((a, b) => a + b, 0),
      3,
      'the containers run on',
    );
    c.etcd.restart(lost);
    c.etcd.restart(second);
    await c.etcd.waitHealthy();
    await c.leader(30_000);
    // etcd3's own Election could leave two leaders after etcd restarts (etcd3#158); here exactly one
    // manager believes it leads, and any other's write would be fenced.
    await waitFor('exactly one manager to believe it leads', () => {
      const leading = c.managers.filter((m) => {
        const last = m.daemon.lines.filter((l) => l.msg === 'leading' || l.msg === 'stopped leading').at(-1);
        return last?.msg === 'leading';
      });
      return leading.length === 1 ? leading : undefined;
    });
    const after = await healthy('web', 3);
    assert.deepEqual(after.map((t) => t.id).sort(), before.map((t) => t.id).sort(), 'no task moved');
    const events = await c.ok('events', '--since', new Date(since).toISOString(), '--until', '0s', '--format', 'json');
    assert.ok(!/"node-down"/.test(events), `no node declared down for the outage: ${events}`);
    await c.ok('service', 'rm', 'during');
  });
});

test('bad --store is exit 2 with one line; etcd that does not answer at start is exit 1 naming its endpoints', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bad-store-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const bad = await runWarren(['manager', '--data-dir', dataDir, '--store', 'etcd://no-port']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^error: --store "etcd:\/\/no-port": "no-port" is not host:port\n$/);
  const free = await portFreeOn(['127.0.0.1']);
  const started = Date.now();
  const down = await runWarren([
    ...['manager', '--data-dir', dataDir, '--store', `etcd://127.0.0.1:${free}`],
    ...['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
  ]);
  assert.equal(down.code, 1, down.stderr);
  assert.equal(down.stderr.split('\n').filter(Boolean).length, 1, down.stderr);
  assert.match(down.stderr, new RegExp(`^error: cannot reach etcd at 127\\.0\\.0\\.1:${free} \\(--store\\)`));
  assert.ok(Date.now() - started < 30_000);
});

test('etcd over mutual TLS: a manager with its client certificate leads and writes; one without is exit 1', async (t) => {
  const c = await HaCluster.create({ managers: 1, members: 1, etcdTls: true });
  t.after(() => c.destroy());
  await c.leader();
  await c.ok('service', 'create', 'over-tls', '--image', TEST_IMAGE, '--', 'sleep', '100000');
  assert.match(await c.ok('service', 'ls'), /\bover-tls\b/);
  // etcd takes no client without a certificate of its CA: such a manager stops at once, saying where.
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-no-cert-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const refused = await runWarren([
    ...['manager', '--data-dir', dataDir, '--store', c.etcd.url, '--etcd-cacert', c.etcd.tls!.ca],
    ...['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
  ]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.stderr.split('\n').filter(Boolean).length, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^error: cannot reach etcd at 127\.0\.0\.1:\d+ \(--store\): etcd refused this manager's TLS client certificate/,
  );
  await c.ok('service', 'rm', 'over-tls');
});
