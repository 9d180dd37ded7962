/**
 * Service names, end to end: two workers on this host as two nodes (127.0.0.2 and 127.0.0.3,
 * each with its own range of virtual IPs and its own DNS server), busybox tasks resolving with
 * `nslookup` and connecting with `nc`, and a constant stream of requests by name from this
 * process (resolved at the nodes' DNS servers) while replicas turn unready, are scaled away and
 * replaced. Names that are not services go to a resolver of the test's own on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, docker, waitFor, type Daemon, type TaskJson } from '../helpers/cluster.js';
import { fakeUpstream, query } from '../helpers/dns.js';
import { Load } from '../helpers/load.js';
import { READY_AT_ONCE, TWO_HOSTS, portFreeOn } from '../helpers/ports.js';

type Node = keyof typeof TWO_HOSTS;

/** httpd answers `/` with the container's host name; /ready drives its readiness (as in ingress.test). */
const SERVE = [
  'hostname > /www/index.html; touch /www/ready; httpd -f -p 80 -h /www &',
  'trap "echo stopping > /www/index.html; sleep 2; exit 0" TERM; wait',
].join(' ');

/** Where the IPv4 address sits in busybox nslookup's answer. */
const ADDRESSES = /^Address: (\d+\.\d+\.\d+\.\d+)$/gm;

describe('services find each other by name', { concurrency: false }, () => {
  let c: Cluster;
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  const workers = new Map<Node, Daemon>();

  before(async () => {
    upstream = await fakeUpstream({ 'outside.test': '127.0.0.77' });
    c = await Cluster.create();
    for (const [name, host] of Object.entries(TWO_HOSTS) as Array<[Node, string]>) {
      const flags = ['--ingress-addr', host, '--advertise-addr', host, '--dns-upstream', `127.0.0.1:${upstream.port}`];
      workers.set(name, await c.startWorker(name, flags));
    }
  });
  after(async () => {
    await c.destroy();
    await upstream.close();
  });

  /** The DNS server of node `name`: the first address of its range. */
  const dnsOf = (name: Node): string => c.vipRanges.get(name)!.replace(/\.0\/24$/, '.1');
  const nodeOf = (t: TaskJson): Node => t.node.split('-').at(-1) as Node;
  const ipOf = async (t: TaskJson): Promise<string> =>
    (await docker.getContainer(t.containerId).inspect()).NetworkSettings.Networks.bridge?.IPAddress ?? '';
  const sh = (t: TaskJson, script: string): Promise<string> => c.exec(t.containerId, ['sh', '-c', script]);
  /** One HTTP GET by name from inside task `t`: the body (a replica's host name) or ''. */
  const getByName = async (t: TaskJson, name: string): Promise<string> =>
    (await sh(t, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${name} 80 | tail -n 1`)).trim();

  const create = async (name: string, replicas: number, extra: string[] = []): Promise<void> => {
    await c.ok(
      'service',
      'create',
      name,
      '--image',
      TEST_IMAGE,
      '--replicas',
      String(replicas),
      '--expose',
      '80',
      ...READY_AT_ONCE,
      ...extra,
      '--',
      'sh',
      '-c',
      SERVE,
    );
  };
  const readyTasks = (name: string, n: number): Promise<TaskJson[]> =>
    waitFor(
      `${n} ready tasks of ${name}`,
      async () => {
        const live = await c.live(name);
        return live.length === n && live.every((t) => t.state === 'running' && t.ready) ? live : undefined;
      },
      90_000,
    );
  /** The addresses node `node` answers for `name`, once `check` accepts them. */
  const answers = (node: Node, name: string, check: (addresses: string[]) => boolean): Promise<string[]> =>
    waitFor(
      `${name} at ${node}'s DNS server to answer as expected`,
      async () => {
        const a = await query(dnsOf(node), name).catch(() => undefined);
        return a && a.rcode === 'NOERROR' && check(a.addresses) ? a.addresses : undefined;
      },
      30_000,
    );

  let client: TaskJson;
  let api: TaskJson[];

  test("a task resolves a service to its node's virtual IP and reaches ready tasks on either node", async () => {
    await create('api', 2);
    await c.ok('service', 'create', 'client', '--image', TEST_IMAGE, '--', 'sleep', '100000');
    api = await readyTasks('api', 2);
    assert.deepEqual(new Set(api.map(nodeOf)), new Set(['w1', 'w2']), 'one replica on each node');
    client = (await c.waitRunning('client', 1))[0]!;
    const node = nodeOf(client);
    const range = c.vipRanges.get(node)!.replace(/0\/24$/, '');

    const lookup = await waitFor('nslookup api in the client', async () => {
      const out = await sh(client, 'nslookup api');
      return /^Address: \d/m.test(out) ? out : undefined;
    });
    const vips = [...lookup.matchAll(ADDRESSES)].map((m) => m[1]!).filter((a) => a !== dnsOf(node));
    assert.equal(vips.length, 1, lookup);
    assert.ok(vips[0]!.startsWith(range), `api's address ${vips[0]} is in ${node}'s range ${range}0/24`);

    // Both replicas answer by name: the one on the client's node and the one across.
    const hosts = new Set(api.map((t) => t.containerId.slice(0, 12)));
    const seen = new Set<string>();
    await waitFor('both replicas answering the client by name', async () => {
      seen.add(await getByName(client, 'api'));
      return [...hosts].every((h) => seen.has(h));
    });
    assert.deepEqual(
      [...seen].filter((h) => !hosts.has(h) && h !== ''),
      [],
      'only api replicas answered',
    );

    // tasks.api: the ready tasks on the client's node, by their own addresses.
    const local = await Promise.all(api.filter((t) => nodeOf(t) === node).map(ipOf));
    const tasks = await sh(client, 'nslookup tasks.api');
    assert.deepEqual(
      [...tasks.matchAll(ADDRESSES)].map((m) => m[1]!).filter((a) => a !== dnsOf(node)),
      local,
      tasks,
    );

    const text = await c.ok('service', 'inspect', 'api');
    assert.match(text, /^Names:\s+api:80 \(a virtual IP on each node/m);
    const spec = (await c.inspect<{ spec: { expose: number[] } }>('api')).spec;
    assert.deepEqual(spec.expose, [80]);
  });

  test('names that are not services resolve upstream, over UDP and TCP; Warren answers its own with AA', async () => {
    const out = await sh(client, 'nslookup outside.test');
    assert.match(out, /^Address: 127\.0\.0\.77$/m, out);
    for (const node of ['w1', 'w2'] as const) {
      const udp = await query(dnsOf(node), 'outside.test');
      const tcp = await query(dnsOf(node), 'outside.test', { tcp: true });
      assert.deepEqual([udp.rcode, udp.addresses, udp.authoritative], ['NOERROR', ['127.0.0.77'], false]);
      assert.deepEqual([tcp.rcode, tcp.addresses], ['NOERROR', ['127.0.0.77']]);
      const own = await query(dnsOf(node), 'API', { tcp: true });
      assert.equal(own.authoritative, true);
      assert.equal(own.addresses.length, 1);
      const v6 = await query(dnsOf(node), 'api', { type: 'AAAA' });
      assert.deepEqual([v6.rcode, v6.addresses], ['NOERROR', []]);
    }
    const missing = await sh(client, 'nslookup nosuch.test; echo "exit $?"');
    assert.match(missing, /NXDOMAIN|can't find/, missing);
    assert.match(missing, /exit 1$/m);
  });

  test('a replica made unready gets no new connection by name and leaves tasks.NAME; the other serves on', async () => {
    const [unready, other] = api;
    const node = nodeOf(unready!);
    const ip = await ipOf(unready!);
    await answers(node, 'tasks.api', (a) => a.includes(ip));
    await sh(unready!, 'rm /www/ready');
    await answers(node, 'tasks.api', (a) => !a.includes(ip));
    await waitFor('api to have one ready task', async () => (await c.live('api')).filter((t) => t.ready).length === 1);
    const bodies: string[] = [];
    for (let i = 0; i < 20; i++) bodies.push(await getByName(client, 'api'));
    assert.deepEqual(new Set(bodies), new Set([other!.containerId.slice(0, 12)]), bodies.join(', '));
    await sh(unready!, 'touch /www/ready');
    await answers(node, 'tasks.api', (a) => a.includes(ip));
  });

  test('scale down and a rolling replacement (one at a time) under constant load by name: no request fails', async () => {
    await c.ok('service', 'scale', 'api=3');
    await readyTasks('api', 3);
    const vips = await Promise.all((['w1', 'w2'] as const).map((n) => answers(n, 'api', (a) => a.length === 1)));
    const load = new Load(vips.map((a) => `${a[0]}:80`)).start();
    try {
      await load.flowing();
      await c.ok('service', 'scale', 'api=2');
      await readyTasks('api', 2);
      await load.flowing();
      const old = await c.live('api');
      await c.ok('service', 'update', 'api', '--force');
      await waitFor(
        'the rollout to replace the task',
        async () => {
          const live = await c.live('api');
          const fresh = live.filter((t) => t.ready && !old.some((b) => b.id === t.id));
          return live.length === 2 && fresh.length === 2 ? live : undefined;
        },
        90_000,
      );
      await load.flowing();
    } finally {
      await load.stop();
    }
    const failures = load.failures();
    const late = load.outcomes.filter((o) => o.body === 'stopping');
    assert.equal(late.length, 0, 'no request reached a task after its SIGTERM');
    // Served by name only (--expose), and still each stop waited for every proxy to confirm.
    const drained = c.manager.lines.filter((l) => l.msg === 'drained: every proxy confirmed; stopping');
    assert.ok(drained.length >= 3, `the scale-down and both replacements were drained (${drained.length})`);
    assert.ok(load.outcomes.length > 200, `requests sent: ${load.outcomes.length}`);
    assert.deepEqual(
      failures.slice(0, 5).map((f) => `${f.target} ${f.error}`),
      [],
      `${failures.length} of ${load.outcomes.length} requests failed`,
    );
  });

  test("on a user-defined network Docker's own names keep working, and services resolve through it", async (t) => {
    const network = `${c.nodeName('net')}`;
    await docker.createNetwork({ Name: network, Driver: 'bridge', Labels: { 'warren.test': 'names' } });
    t.after(async () => {
      for (const name of ['netpeer', 'netclient']) await c.cli('service', 'rm', name);
      await waitFor(
        'the network tasks gone',
        async () => (await c.containers({ all: true })).every((k) => !k.Names.some((n) => n.includes('net'))),
        60_000,
      );
      await docker.getNetwork(network).remove();
    });
    for (const name of ['netpeer', 'netclient'])
      await c.ok('service', 'create', name, '--image', TEST_IMAGE, '--network', network, '--', 'sleep', '100000');
    const [peer] = await c.waitRunning('netpeer', 1);
    const [netclient] = await c.waitRunning('netclient', 1);
    const info = await docker.getContainer(peer!.containerId).inspect();
    const peerName = info.Name.replace(/^\//, '');
    const peerIp = info.NetworkSettings.Networks[network]!.IPAddress;
    const own = await sh(netclient!, `nslookup ${peerName}`);
    assert.match(own, new RegExp(`^Address: ${peerIp.replaceAll('.', '\\.')}$`, 'm'), own);
    const byName = await waitFor('a service by name from the user network', async () => {
      const out = await getByName(netclient!, 'api');
      return out !== '' ? out : undefined;
    });
    const replicas = (await c.live('api')).map((x) => x.containerId.slice(0, 12));
    assert.ok(replicas.includes(byName), `${byName} is one of api's replicas`);
    const outside = await sh(netclient!, 'nslookup outside.test');
    assert.match(outside, /^Address: 127\.0\.0\.77$/m, outside);
  });

  test("a stack's services find each other by their short names, as in Swarm", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-names-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'compose.yml');
    await writeFile(
      file,
      [
        'services:',
        '  cart:',
        `    image: ${TEST_IMAGE}`,
        '    command: httpd -f -p 80 -h /www',
        '    expose: [80]',
        '    deploy: { replicas: 1 }',
      ].join('\n') + '\n',
    );
    await c.ok('stack', 'deploy', '-c', file, 'shop');
    t.after(() => c.cli('stack', 'rm', 'shop'));
    await readyTasks('shop_cart', 1);
    const body = await waitFor('cart by its short name', async () => {
      const out = await sh(client, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 cart 80 | tail -n 1`);
      return out.trim() !== '' ? out.trim() : undefined;
    });
    assert.equal(body, 'warren test image');
    const full = await sh(client, 'nslookup shop_cart');
    const short = await sh(client, 'nslookup cart');
    const address = (out: string) => [...out.matchAll(ADDRESSES)].map((m) => m[1]).at(-1);
    assert.equal(address(short), address(full), `${short}\n${full}`);
  });

  test('a removed service answers NXDOMAIN on every node', async () => {
    await create('gone', 1);
    await readyTasks('gone', 1);
    for (const node of ['w1', 'w2'] as const) await answers(node, 'gone', (a) => a.length === 1);
    await c.ok('service', 'rm', 'gone');
    for (const node of ['w1', 'w2'] as const) {
      await waitFor(
        `gone to be NXDOMAIN at ${node}`,
        async () => (await query(dnsOf(node), 'gone')).rcode === 'NXDOMAIN',
      );
    }
  });

  test('a port a program of the host holds on every address: the name answers no address, inspect says why', async () => {
    interface Problem {
      node: string;
      published: number;
      namePort?: number;
      error: string;
    }
    const port = await portFreeOn(['0.0.0.0']);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '0.0.0.0', resolve));
    try {
      await create('held', 1, ['--expose', String(port)]);
      await readyTasks('held', 1);
      const problems = await waitFor('both nodes to report the port held', async () => {
        const { ingressProblems } = await c.inspect<{ ingressProblems: Problem[] }>('held');
        return ingressProblems.length === 2 ? ingressProblems : undefined;
      });
      assert.deepEqual(new Set(problems.map((p) => p.node)), new Set([c.nodeName('w1'), c.nodeName('w2')]));
      for (const p of problems) {
        assert.deepEqual([p.published, p.namePort], [0, port]);
        assert.match(p.error, new RegExp(`^cannot listen on 198\\.19\\.\\d+\\.\\d+:${port}: address already in use$`));
      }
      const text = await c.ok('service', 'inspect', 'held');
      const line = `^  node ${c.nodeName('w1')}: port ${port} by name: cannot listen on \\S+: address already in use; `;
      assert.match(text, new RegExp(`${line}the name answers no address on ${c.nodeName('w1')}$`, 'm'));
      for (const node of ['w1', 'w2'] as const) {
        const a = await query(dnsOf(node), 'held');
        assert.deepEqual([a.rcode, a.addresses], ['NOERROR', []], `held at ${node}`);
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    // Tried again every 5 s: once free, the name leads to the service again and the problem goes.
    await waitFor('the problems gone', async () => {
      const { ingressProblems } = await c.inspect<{ ingressProblems: Problem[] }>('held');
      return ingressProblems.length === 0;
    });
    for (const node of ['w1', 'w2'] as const) await answers(node, 'held', (a) => a.length === 1);
    await c.ok('service', 'rm', 'held');
  });

  test("a worker whose range another one holds runs without names, says why, and leaves the other's alone", async () => {
    const taken = c.vipRanges.get('w1')!;
    const w3 = await c.startWorker('w3', [
      '--vip-range',
      taken,
      '--ingress-addr',
      '127.0.0.4',
      '--advertise-addr',
      '127.0.0.4',
    ]);
    const off = await w3.waitForLog((l) => l.msg === 'service names are off on this node');
    assert.match(String(off.reason), /cannot listen on 198\.19\.\d+\.1:53: address already in use/);
    const { http } = await w3.waitForLog((l) => l.msg === 'health endpoints');
    const health = (await (await fetch(`http://${String(http)}/health/ready`)).json()) as {
      components: Array<{ name: string; status: string; message: string }>;
    };
    const names = health.components.find((x) => x.name === 'names')!;
    assert.equal(names.status, 'degraded');
    assert.match(names.message, /^service names are off on this node: cannot listen on/);
    await w3.stop();
    await c.ok('node', 'rm', c.nodeName('w3'), '--force');
    // w1's route and server are still there.
    const a = await query(dnsOf('w1'), 'api');
    assert.deepEqual([a.rcode, a.addresses.length], ['NOERROR', 1]);
  });

  test('bad input: --expose with host networking, or not a port, is refused and creates nothing', async () => {
    const host = await c.cli(
      'service',
      'create',
      'hosted',
      '--image',
      TEST_IMAGE,
      '--network',
      'host',
      '--expose',
      '80',
    );
    assert.equal(host.code, 2);
    assert.match(host.stderr, /--expose 80: a task on the host network/);
    const bad = await c.cli('service', 'create', 'badport', '--image', TEST_IMAGE, '--expose', '80000');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--expose/);
    const ls = await c.ok('service', 'ls');
    assert.doesNotMatch(ls, /hosted|badport/);
  });
});
