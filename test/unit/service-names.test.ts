import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { ValidationError, inRange, parseVipRange } from '@warren/core';
import { IngressProxy, NameRecords, VipAllocator, type IngressTable } from '@warren/worker';

const logger = pino({ level: 'silent' });

test('a vip range is an IPv4 CIDR: DNS at its first address, virtual IPs after it', () => {
  const r = parseVipRange('198.18.3.7/20');
  assert.equal(r.cidr, '198.18.0.0/20');
  assert.equal(r.dnsAddress, '198.18.0.1');
  assert.equal(r.size, 4096 - 3);
  assert.equal(r.vip(0), '198.18.0.2');
  assert.equal(r.vip(r.size - 1), '198.18.15.254');
  assert.throws(() => r.vip(r.size), RangeError);
  for (const bad of ['198.18.0.0', '198.18.0.0/8', '198.18.0.0/30', 'fd00::/64', 'x/24', '198.18.0.0/24/1']) {
    assert.throws(
      () => parseVipRange(bad),
      (err: unknown) =>
        err instanceof ValidationError && err.field === '--vip-range' && /\/16 to \/28/.test(err.message),
      bad,
    );
  }
});

test('a vip range never takes loopback, link-local, multicast or 0/8', () => {
  for (const [bad, words] of [
    ['127.1.0.0/16', /loopback/],
    ['169.254.3.0/24', /link-local/],
    ['224.1.0.0/16', /multicast/],
    ['0.0.1.0/24', /this network/],
  ] as const) {
    assert.throws(
      () => parseVipRange(bad),
      (err: unknown) =>
        err instanceof ValidationError && words.test(err.message) && /cannot hold virtual IPs/.test(err.message),
      bad,
    );
  }
  assert.equal(inRange('10.0.3.4', '10.0.0.0/16'), true);
  assert.equal(inRange('10.1.3.4', '10.0.0.0/16'), false);
});

test('each service keeps its virtual IP while it is in the table; addresses are never shared', () => {
  const allocator = new VipAllocator(parseVipRange('198.19.0.0/28'));
  const first = allocator.assign(['a', 'b', 'c']);
  assert.equal(new Set(first.values()).size, 3);
  const again = allocator.assign(['c', 'a', 'b', 'd']);
  for (const id of ['a', 'b', 'c']) assert.equal(again.get(id), first.get(id), id);
  assert.equal(new Set(again.values()).size, 4);
  // 13 addresses in a /28: the 14th service has none until one goes.
  const many = Array.from({ length: 14 }, (_, i) => `s${i}`);
  const full = allocator.assign(many);
  assert.equal([...full.values()].filter((v) => v === undefined).length, 1);
  assert.equal(new Set([...full.values()].filter(Boolean)).size, 13);
  const freed = allocator.assign(many.slice(1));
  assert.equal([...freed.values()].filter((v) => v === undefined).length, 0);
  // A new allocator (a worker restarted) gives a service the place its id chooses again.
  const fresh = new VipAllocator(parseVipRange('198.19.0.0/28'));
  assert.equal(fresh.assign(['a']).get('a'), new VipAllocator(parseVipRange('198.19.0.0/28')).assign(['a']).get('a'));
});

function entry(
  name: string,
  vip: string | undefined,
  ports: Array<[number, number]>,
  endpoints: string[],
  node = 'n1',
) {
  return {
    serviceId: `id-${name}`,
    name,
    ...(vip ? { vip } : {}),
    ports: ports.map(([published, target]) => ({
      published,
      target,
      endpoints: endpoints.map((address, i) => ({
        taskId: `${name}-${i}`,
        nodeId: i === 0 ? node : 'elsewhere',
        address,
        containerAddress: `172.17.0.${10 + i}`,
      })),
    })),
  };
}

test('records: NAME is the virtual IP, tasks.NAME the ready tasks on this node, any case; others undefined', () => {
  const records = new NameRecords();
  records.update(
    {
      version: 1,
      services: [
        entry(
          'Api',
          '198.19.0.5',
          [
            [0, 80],
            [8080, 81],
          ],
          ['h:1', 'h:2'],
        ),
      ],
    },
    'n1',
  );
  assert.deepEqual(records.resolve('api'), ['198.19.0.5']);
  assert.deepEqual(records.resolve('API'), ['198.19.0.5']);
  assert.deepEqual(records.resolve('tasks.api'), ['172.17.0.10']);
  assert.equal(records.resolve('web'), undefined);
  records.update({ version: 2, services: [entry('api', '198.19.0.5', [[0, 80]], [])] }, 'n1');
  assert.deepEqual(records.resolve('tasks.api'), []);
  records.update({ version: 3, services: [] }, 'n1');
  assert.equal(records.resolve('api'), undefined);
  // A virtual IP that cannot listen: its name answers no address. Aliases; the first of two names in any case.
  const shop = { ...entry('shop_api', '198.19.0.6', [[0, 80]], ['h:1']), aliases: ['api'] };
  const upper = entry('WEB', '198.19.0.7', [[0, 80]], []);
  const lower = entry('web', '198.19.0.8', [[0, 80]], []);
  records.update({ version: 4, services: [upper, shop, lower] }, 'n1', new Set(['198.19.0.7']));
  assert.deepEqual(records.resolve('web'), [], 'WEB came first; its virtual IP cannot listen');
  assert.deepEqual(records.resolve('api'), ['198.19.0.6']);
  assert.deepEqual(records.resolve('tasks.api'), ['172.17.0.10']);
  assert.deepEqual(records.resolve('shop_api'), ['198.19.0.6']);
});

/** A server that answers every connection with its name. */
async function greeter(t: TestContext, name: string): Promise<string> {
  const server = createServer((socket) => socket.end(`${name}\n`));
  await listen(server, '127.0.0.1', 0);
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** What the server at host:port says; '' when the connection is refused or reset. */
function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ host, port });
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text.trim()));
    socket.on('error', () => resolve(''));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await listen(server, '0.0.0.0', 0);
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a virtual IP serves its service even on a port that a wildcard listener publishes for another', async (t) => {
  const [a, b] = [await greeter(t, 'a'), await greeter(t, 'b')];
  const port = await freePort();
  const vip = '127.0.0.50'; // all of 127/8 is local, as the AnyIP route makes a vip range
  const proxy = new IngressProxy({ host: '0.0.0.0', logger });
  t.after(() => proxy.stop());
  const both: IngressTable = {
    version: 1,
    services: [entry('a', undefined, [[port, 80]], [a]), entry('b', vip, [[0, port]], [b])],
  };
  assert.deepEqual((await proxy.apply(both)).bindErrors, []);
  assert.equal(await ask('127.0.0.1', port), 'a', 'the published port, on any address');
  assert.equal(await ask(vip, port), 'b', "the virtual IP's port goes to its own service");
  // The published port goes: the virtual IP listens on its own.
  const alone: IngressTable = { version: 2, services: [entry('b', vip, [[0, port]], [b])] };
  assert.deepEqual((await proxy.apply(alone)).bindErrors, []);
  assert.equal(await ask(vip, port), 'b');
  assert.equal(await ask('127.0.0.1', port), '', 'nothing is published there any more');
  // And back: the wildcard takes the port over again.
  assert.deepEqual((await proxy.apply({ ...both, version: 3 })).bindErrors, []);
  assert.equal(await ask('127.0.0.1', port), 'a');
  assert.equal(await ask(vip, port), 'b');
  // A virtual IP reached on a port its service does not serve is refused, not sent to the published one.
  const other: IngressTable = {
    version: 4,
    services: [entry('a', undefined, [[port, 80]], [a]), entry('b', vip, [[0, port + 1]], [b])],
  };
  await proxy.apply(other);
  assert.equal(await ask('127.0.0.1', port), 'a');
  assert.equal(await ask(vip, port), '', "b does not serve that port; a's published port is not b's name");
});

test('a virtual IP whose port a program of the host holds on every address is failing until it is free', async (t) => {
  const squatter = createServer();
  await listen(squatter, '0.0.0.0', 0);
  const port = (squatter.address() as { port: number }).port;
  const b = await greeter(t, 'b');
  let rebound = (): void => undefined;
  const news = new Promise<void>((resolve) => (rebound = resolve));
  const proxy = new IngressProxy({ host: '127.0.0.2', logger, rebindMs: 100, onBindErrors: () => rebound() });
  t.after(() => proxy.stop());
  const applied = await proxy.apply({ version: 1, services: [entry('b', '127.0.0.53', [[0, port]], [b])] });
  assert.deepEqual([...proxy.failingVips], ['127.0.0.53']);
  // Reported to the manager with the service and the port, for `service inspect`.
  const error = `cannot listen on 127.0.0.53:${port}: address already in use`;
  assert.deepEqual(applied.bindErrors, [{ published: 0, namePort: port, serviceId: 'id-b', error }]);
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  await news; // the retry between tables took the port, and said so
  assert.deepEqual([...proxy.failingVips], []);
  assert.equal(await ask('127.0.0.53', port), 'b');
});
