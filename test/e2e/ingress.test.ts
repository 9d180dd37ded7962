/**
 * Published ports that follow readiness, end to end: two workers, each its own "host"
 * (127.0.0.2 and 127.0.0.3 as ingress and advertise address), real containers running busybox
 * httpd, and a constant stream of requests through both nodes' proxies while replicas turn
 * unready, are scaled away, replaced, killed and removed.
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Cluster, TEST_IMAGE, docker, waitFor, type Daemon, type TaskJson } from '../helpers/cluster.js';
import { Load } from '../helpers/load.js';
import { READY_AT_ONCE, TWO_HOSTS, portFreeOn } from '../helpers/ports.js';

const HOSTS = TWO_HOSTS;

/** One GET through a proxy: the body (a replica's host name), or '' when it failed. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : ''));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

interface Endpoint {
  taskId: string;
  node: string;
  ports: Array<{ target: number; address: string }>;
}

interface Detail {
  tasks: TaskJson[];
  endpoints: Endpoint[];
  ports: Array<{ published: number; target: number }>;
  ingressProblems: Array<{ node: string; published: number; error: string }>;
}

/**
 * httpd answers `/` with the container's host name; /ready and /alive drive its probes. On
 * SIGTERM it answers `stopping` for two more seconds before it exits, as a server finishing its
 * work would: a request answered `stopping` reached a task after its stop had begun.
 */
const SERVE = [
  'hostname > /www/index.html; touch /www/ready /www/alive; httpd -f -p 80 -h /www &',
  'trap "echo stopping > /www/index.html; sleep 2; exit 0" TERM; wait',
].join(' ');

/** Requests that reached a task after it got SIGTERM. */
const afterStop = (load: Load) => load.outcomes.filter((o) => o.body === 'stopping');

describe('published ports follow readiness', { concurrency: false }, () => {
  let c: Cluster;
  const workers = new Map<string, Daemon>();

  before(async () => {
    c = await Cluster.create();
    for (const [name, host] of Object.entries(HOSTS)) {
      workers.set(name, await c.startWorker(name, ['--ingress-addr', host, '--advertise-addr', host]));
    }
  });
  after(async () => {
    await c.destroy();
  });

  const create = async (name: string, port: number, replicas: number, extra: string[] = []): Promise<void> => {
    await c.ok(
      'service',
      'create',
      name,
      '--image',
      TEST_IMAGE,
      '--replicas',
      String(replicas),
      '--publish',
      `published=${port},target=80`,
      ...READY_AT_ONCE,
      ...extra,
      '--',
      'sh',
      '-c',
      SERVE,
    );
  };
  const inspect = (name: string): Promise<Detail> => c.inspect<Detail>(name);
  /** Waits until `n` tasks run and are ready, and the proxies of `hosts` send to all of them. */
  const ready = async (
    name: string,
    port: number,
    n: number,
    hosts: string[] = Object.values(HOSTS),
  ): Promise<TaskJson[]> => {
    const tasks = await waitFor(
      `${n} ready tasks of ${name}`,
      async () => {
        const d = await inspect(name);
        const live = d.tasks.filter((t) => t.desiredState === 'running');
        return live.length === n && live.every((t) => t.state === 'running' && t.ready) ? live : undefined;
      },
      90_000,
    );
    const names = new Set(tasks.map((t) => t.containerId.slice(0, 12)));
    await waitFor(
      `every replica of ${name} answering through ${hosts.join(' and ')}`,
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < n * 12; i++) seen.add(await get(hosts[i % hosts.length]!, port));
        return [...names].every((h) => seen.has(h));
      },
      30_000,
    );
    return tasks;
  };
  const exec = (t: TaskJson, ...cmd: string[]): Promise<string> => c.exec(t.containerId, cmd);
  const targets = (port: number): string[] => Object.values(HOSTS).map((h) => `${h}:${port}`);
  const hostOf = (t: TaskJson): string => t.containerId.slice(0, 12);

  test('create shows the published port and endpoints on each node; a second service cannot take the port', async () => {
    const port = await portFreeOn();
    await create('shown', port, 2);
    await ready('shown', port, 2);
    const d = await inspect('shown');
    assert.deepEqual(
      d.ports.map((p) => [p.published, p.target]),
      [[port, 80]],
    );
    assert.equal(d.endpoints.length, 2);
    for (const e of d.endpoints) {
      const host = HOSTS[e.node.split('-').at(-1) as keyof typeof HOSTS];
      assert.match(e.ports[0]?.address ?? '', new RegExp(`^${host.replaceAll('.', '\\.')}:\\d+$`), JSON.stringify(e));
    }
    const text = await c.ok('service', 'inspect', 'shown');
    assert.match(text, new RegExp(`${port} → 80/tcp`));

    const taken = await c.cli(
      'service',
      'create',
      'other',
      '--image',
      TEST_IMAGE,
      '-p',
      `${port}:8080`,
      '--',
      'sleep',
      '100',
    );
    assert.equal(taken.code, 2, taken.stderr);
    assert.match(taken.stderr, new RegExp(`--publish.*port ${port} is already published by service shown`));
    const other = await c.cli('service', 'inspect', 'other');
    assert.match(other.stderr, /not found/, 'nothing was created');
    await c.ok('service', 'rm', 'shown');
  });

  test('a replica whose readiness fails gets no request and none fails; it gets them again once ready', async () => {
    const port = await portFreeOn();
    await create('web', port, 3);
    const tasks = await ready('web', port, 3);
    const load = new Load(targets(port)).start();
    try {
      await load.flowing(200);
      const x = tasks[0]!;
      await exec(x, 'rm', '/www/ready');
      await waitFor('the replica unready', async () => {
        const t = (await inspect('web')).tasks.find((u) => u.id === x.id);
        return t?.ready === false;
      });
      const unreadyAt = Date.now();
      await load.flowing(400);
      const toX = load.after(unreadyAt).filter((o) => o.body === hostOf(x));
      assert.equal(toX.length, 0, `${toX.length} requests reached the unready replica`);
      await exec(x, 'touch', '/www/ready');
      await waitFor(
        'the replica serving again',
        () => load.outcomes.some((o) => o.body === hostOf(x) && o.startedAt > unreadyAt),
        30_000,
      );
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.ok(load.outcomes.length > 600, `${load.outcomes.length} requests`);
  });

  test('scaling 3 → 1 under load fails no request', async () => {
    const port = (await inspect('web')).ports[0]!.published;
    const load = new Load(targets(port)).start();
    try {
      await load.flowing(200);
      await c.ok('service', 'scale', 'web=1');
      await waitFor('two containers gone', async () => (await c.containers({ service: 'web' })).length === 1, 60_000);
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.deepEqual(afterStop(load), [], 'no request reached a task after its SIGTERM');
    const drained = c.manager.lines.filter((l) => l.msg === 'drained: every proxy confirmed; stopping');
    assert.ok(drained.length >= 2, 'both stops waited for every proxy to confirm');
    await c.ok('service', 'rm', 'web');
    await waitFor('web gone', async () => (await c.containers({ service: 'web' })).length === 0, 60_000);
  });

  test('a replica replaced for liveness fails no request', async () => {
    const live = await portFreeOn();
    await create('live', live, 3, ['--liveness-http', 'path=/alive,port=80', '--liveness-interval', '250ms']);
    const tasks = await ready('live', live, 3);
    const load = new Load(targets(live)).start();
    try {
      await load.flowing(200);
      const x = tasks[1]!;
      await exec(x, 'rm', '/www/alive');
      await waitFor(
        'its container gone',
        async () => !(await c.containers({ service: 'live' })).some((k) => k.Id === x.containerId),
        60_000,
      );
      await ready('live', live, 3);
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.deepEqual(afterStop(load), [], 'no request reached the replaced task after its SIGTERM');
  });

  test('a container killed with SIGKILL fails only the requests in flight on it', async () => {
    const port = (await inspect('live')).ports[0]!.published;
    const tasks = (await inspect('live')).tasks.filter((t) => t.desiredState === 'running');
    const load = new Load(targets(port)).start();
    let killedAt = 0;
    try {
      await load.flowing(200);
      await docker.getContainer(tasks[0]!.containerId).kill({ signal: 'SIGKILL' });
      killedAt = Date.now();
      await ready('live', port, 3);
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    const failures = load.failures();
    assert.ok(failures.length <= 8, `at most one in flight per client: ${JSON.stringify(failures)}`);
    const late = failures.filter((f) => f.startedAt > killedAt);
    assert.deepEqual(late, [], 'no request started after the kill failed');
  });

  test('a port a node cannot listen on is reported, and taken once free', async () => {
    const port = await portFreeOn();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, HOSTS.w2, resolve));
    try {
      await create('squat', port, 1);
      const problem = await waitFor('the problem shown', async () => {
        const d = await inspect('squat');
        return d.ingressProblems.find((p) => p.published === port);
      });
      assert.equal(problem.node, c.nodeName('w2'));
      assert.match(problem.error, /in use/);
      assert.match(await c.ok('service', 'inspect', 'squat'), /cannot listen/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await waitFor('the problem gone', async () => (await inspect('squat')).ingressProblems.length === 0, 30_000);
    await ready('squat', port, 1);
    await c.ok('service', 'rm', 'squat');
  });

  test('service rm under load: the proxies stop listening first, then the tasks stop; no request is cut', async () => {
    const port = (await inspect('live')).ports[0]!.published;
    const load = new Load(targets(port)).start();
    let goneAt = 0;
    let rmAt = 0;
    try {
      await load.flowing(200);
      rmAt = Date.now();
      await c.ok('service', 'rm', 'live');
      await waitFor(
        'every container gone',
        async () => (await c.containers({ service: 'live' })).length === 0,
        60_000,
      );
      goneAt = Date.now();
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    assert.deepEqual(afterStop(load), [], 'no request reached a task after its SIGTERM');
    const failures = load.failures();
    // A proxy that stops listening closes its socket: connections the kernel had queued but the
    // proxy not yet accepted are reset (at most one per client connecting at that instant); no
    // connection that reached a task is cut, nothing hangs, and from then on it is refused.
    const kinds = new Set(failures.map((f) => f.error));
    assert.deepEqual(
      [...kinds].filter((k) => k !== 'ECONNREFUSED' && k !== 'ECONNRESET'),
      [],
      'refused or reset',
    );
    for (const target of targets(port)) {
      const mine = failures.filter((f) => f.target === target);
      const resets = mine.filter((f) => f.error === 'ECONNRESET');
      assert.ok(resets.length <= 8, `${target}: ${resets.length} resets, at most one per client`);
      const firstRefused = mine.find((f) => f.error === 'ECONNREFUSED')?.startedAt ?? Infinity;
      assert.ok(
        resets.every((f) => f.startedAt <= firstRefused),
        `${target}: resets only as the listener closed: ${JSON.stringify(resets)}`,
      );
    }
    assert.ok(goneAt > rmAt);
    assert.equal(load.after(goneAt).filter((o) => o.ok).length, 0, 'nothing answers once the tasks are gone');
    assert.ok(
      load.after(goneAt).every((o) => o.error === 'ECONNREFUSED'),
      'refused once the tasks are gone',
    );
    for (const target of targets(port)) {
      const firstRefused = failures.find((f) => f.target === target)?.startedAt ?? Infinity;
      const laterOk = load.outcomes.filter((o) => o.target === target && o.ok && o.startedAt > firstRefused);
      assert.equal(laterOk.length, 0, `${target}: once refused, refused`);
    }
  });

  test('a worker killed with kill -9: requests through the other node succeed once the node is down', async () => {
    const port = await portFreeOn();
    await create('survive', port, 4);
    await ready('survive', port, 4);
    const load = new Load([`${HOSTS.w1}:${port}`]).start();
    let downAt = 0;
    try {
      await load.flowing(200);
      workers.get('w2')!.kill('SIGKILL');
      await waitFor(
        'the node down',
        async () => {
          const node = JSON.parse(await c.ok('node', 'inspect', c.nodeName('w2'), '--format', 'json'));
          return (node as { status: string }).status === 'down';
        },
        30_000,
      );
      downAt = Date.now();
      await ready('survive', port, 4, [HOSTS.w1]);
      await load.flowing(300);
    } finally {
      await load.stop();
    }
    const failed = load.failures();
    process.stderr.write(`ingress: worker kill -9, ${failed.length} of ${load.outcomes.length} requests failed\n`);
    assert.deepEqual(load.failures(downAt), [], 'nothing fails once the node is declared down');
  });
});
