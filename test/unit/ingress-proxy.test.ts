import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  ANSWER_WAIT_MS,
  IngressProxy,
  ingressTableFromWire,
  type IngressProxyOptions,
  type IngressTable,
} from '@warren/worker';

const logger = pino({ level: 'silent' });
const HOST = '127.0.0.1';
/** A test that hangs (a connection never closed, say) fails instead. */
const LIMIT = { timeout: 30_000 };
const LATE_MS = 300;

/** Until `check` holds, for at most `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve());
  });
  return (server.address() as { port: number }).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nobody listens on (now). */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

interface Endpoint {
  address: string;
  /** Connections it accepted. */
  accepted: number;
  /** What it received, over every connection. */
  received: string;
  /** Answers a `late` endpoint has sent. */
  answered: number;
}

/**
 * A task's server: says its name at once and echoes what it gets; `closer` instead closes at
 * the client's first bytes without a word (docker-proxy with its container gone); `silent`
 * waits for the client to speak first; `late` answers LATE_MS after the client speaks, `mute`
 * never does.
 */
async function endpoint(
  t: TestContext,
  name: string,
  kind: 'greeter' | 'closer' | 'silent' | 'late' | 'mute' = 'greeter',
): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    state.accepted++;
    if (kind === 'greeter') socket.write(`${name}\n`);
    // `silent`: says nothing, and ends when the client does (a server seeing a TCP check).
    if (kind === 'silent') socket.on('end', () => socket.end());
    socket.on('data', (data) => {
      state.received += data.toString();
      if (kind === 'closer') socket.end();
      else if (kind === 'late') setTimeout(() => (state.answered++, socket.write(data)), LATE_MS);
      else if (kind !== 'mute') socket.write(data);
    });
  });
  const port = await listen(server);
  const state: Endpoint = { address: `${HOST}:${port}`, accepted: 0, received: '', answered: 0 };
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return close(server);
  });
  return state;
}

interface Client {
  socket: Socket;
  text(): string;
  /** True once the socket has closed. */
  closed(): boolean;
}

/** A client of the proxy's port: resolves once connected, rejects if refused. */
async function dial(t: TestContext, port: number): Promise<Client> {
  const socket = connect({ host: HOST, port });
  t.after(() => socket.destroy());
  let text = '';
  socket.on('data', (data) => (text += data.toString()));
  let closed = false;
  socket.once('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return { socket, text: () => text, closed: () => closed };
}

/** A client that waits for the endpoint's name; resolves with it. */
async function greeted(t: TestContext, port: number): Promise<{ client: Client; name: string }> {
  const client = await dial(t, port);
  await waitFor('a greeting', () => client.text().includes('\n'));
  return { client, name: client.text().split('\n')[0] ?? '' };
}

function table(version: number, ports: Record<number, string[]>, name = 'web'): IngressTable {
  const entries = Object.entries(ports).map(([published, addresses]) => ({
    published: Number(published),
    target: 80,
    endpoints: addresses.map((address, i) => ({ taskId: `t${i}`, nodeId: 'n1', address })),
  }));
  return { version, services: entries.length ? [{ serviceId: 's1', name, ports: entries }] : [] };
}

function proxy(t: TestContext, options: Partial<IngressProxyOptions> = {}): IngressProxy {
  const p = new IngressProxy({ host: HOST, logger, ...options });
  t.after(() => p.stop());
  return p;
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await registry.getSingleMetric(name)!.get();
  const found = values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return found?.value ?? 0;
}

test('the wire table becomes the domain table; a node reaches its own tasks at their containers', () => {
  const endpoint = (nodeId: string, address: string, localAddress: string) => ({
    taskId: `t-${nodeId}`,
    nodeId,
    address,
    localAddress,
    containerAddress: localAddress.split(':')[0] ?? '',
  });
  const wire = {
    version: 7,
    services: [
      {
        serviceId: 's1',
        name: 'web',
        aliases: [],
        ports: [
          {
            published: 8080,
            target: 80,
            endpoints: [
              endpoint('n1', '10.0.0.2:32768', '172.17.0.5:80'),
              endpoint('n2', '10.0.0.3:32769', '172.17.0.9:80'),
              endpoint('n3', '10.0.0.4:32770', ''),
            ],
          },
        ],
      },
    ],
  };
  const seenFrom = (nodeId?: string) =>
    ingressTableFromWire(wire, nodeId).services[0]!.ports[0]!.endpoints.map((e) => e.address);
  assert.deepEqual(seenFrom(), ['10.0.0.2:32768', '10.0.0.3:32769', '10.0.0.4:32770']);
  assert.deepEqual(seenFrom('n2'), ['10.0.0.2:32768', '172.17.0.9:80', '10.0.0.4:32770']);
  assert.deepEqual(seenFrom('n3'), ['10.0.0.2:32768', '10.0.0.3:32769', '10.0.0.4:32770']);
  assert.equal(ingressTableFromWire(wire).version, 7);
});

test('connections are forwarded, spread by least connections, and counted', LIMIT, async (t) => {
  const names = ['a', 'b', 'c'];
  const endpoints = await Promise.all(names.map((n) => endpoint(t, n)));
  const registry = new Registry();
  const p = proxy(t, { registry });
  const port = await freePort();
  assert.deepEqual(await p.apply(table(1, { [port]: endpoints.map((e) => e.address) })), {
    version: 1,
    bindErrors: [],
  });
  assert.equal(p.version, 1);
  const clients: Client[] = [];
  const seen: Record<string, number> = {};
  for (let i = 0; i < 6; i++) {
    const { client, name } = await greeted(t, port);
    clients.push(client);
    seen[name] = (seen[name] ?? 0) + 1;
  }
  assert.deepEqual(seen, { a: 2, b: 2, c: 2 });
  assert.deepEqual(Object.fromEntries(p.activeConnections), Object.fromEntries(endpoints.map((e) => [e.address, 2])));
  for (const client of clients) client.socket.write('ping');
  await waitFor('the echoes', () => clients.every((c) => c.text().endsWith('\nping')));
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'forwarded' }), 6);
  assert.equal(await metric(registry, 'warren_ingress_active_connections', { service: 'web' }), 6);
  assert.equal(await metric(registry, 'warren_ingress_bytes_total', { service: 'web', direction: 'in' }), 6 * 4);
  assert.equal(await metric(registry, 'warren_ingress_bytes_total', { direction: 'out' }), 6 * 6);
  assert.equal(await metric(registry, 'warren_ingress_table_version'), 1);
  for (const client of clients) client.socket.end();
  await waitFor('no connection left', () => p.activeConnections.size === 0);
  await waitFor('the gauge down', async () => (await metric(registry, 'warren_ingress_active_connections')) === 0);
});

test('an endpoint removed by a table gets no new connection; its open one goes on', LIMIT, async (t) => {
  const [a, b] = await Promise.all([endpoint(t, 'a'), endpoint(t, 'b')]);
  const p = proxy(t);
  const port = await freePort();
  await p.apply(table(1, { [port]: [a.address, b.address] }));
  const held = await greeted(t, port);
  const [gone, kept] = held.name === 'a' ? [a, b] : [b, a];
  await p.apply(table(2, { [port]: [kept.address] }));
  const names = await Promise.all(Array.from({ length: 5 }, async () => (await greeted(t, port)).name));
  assert.deepEqual(names, Array(5).fill(held.name === 'a' ? 'b' : 'a'));
  assert.equal(gone.accepted, 1);
  held.client.socket.write('still there');
  await waitFor('the echo of the removed endpoint', () => held.client.text() === `${held.name}\nstill there`);
});

/**
 * An address whose connects hang: a listener in a stopped process with its accept queue full
 * drops further SYNs (what a node that vanished looks like).
 */
async function unanswered(t: TestContext): Promise<string> {
  const script = `require('net').createServer().listen({ port: 0, host: '${HOST}', backlog: 1 }, function () {
    process.stdout.write(String(this.address().port) + '\\n');
  });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (data) => resolve(Number(String(data).trim())));
    child.once('exit', () => reject(new Error('the listener exited')));
  });
  child.kill('SIGSTOP');
  // A backlog of 1 queues two connections; those fill it.
  for (let i = 0; i < 2; i++) await dial(t, port);
  return `${HOST}:${port}`;
}

test('a table resolves once connects to the endpoints it removes have settled', LIMIT, async (t) => {
  const hanging = await unanswered(t);
  const good = await endpoint(t, 'good');
  const p = proxy(t, { connectTimeoutMs: 300 });
  const port = await freePort();
  await p.apply(table(1, { [port]: [hanging] }));
  const client = await dial(t, port);
  await waitFor('a connect under way', () => p.activeConnections.get(hanging) === 1);
  await p.apply(table(2, { [port]: [good.address] }));
  assert.equal(p.activeConnections.get(hanging), undefined, 'no connect to the removed endpoint is left');
  // Its connect timed out, and the retry read the new table.
  await waitFor('the new endpoint', () => client.text() === 'good\n');
});

test('a table waits for the answer to a request sent just before it, a bounded while', LIMIT, async (t) => {
  const [late, mute, good] = await Promise.all([
    endpoint(t, 'late', 'late'),
    endpoint(t, 'mute', 'mute'),
    endpoint(t, 'good'),
  ]);
  const p = proxy(t);
  const port = await freePort();
  for (const [version, gone] of [
    [1, late],
    [3, mute],
  ] as const) {
    await p.apply(table(version, { [port]: [gone.address] }));
    const client = await dial(t, port);
    client.socket.write('request');
    await waitFor('the request at the endpoint', () => gone.received.endsWith('request'));
    const started = performance.now();
    assert.equal((await p.apply(table(version + 1, { [port]: [good.address] }))).version, version + 1);
    const waited = performance.now() - started;
    if (gone === late) {
      assert.equal(late.answered, 1, 'the answer came before the table resolved');
      await waitFor('the answer at the client', () => client.text() === 'request');
    } else {
      assert.ok(waited >= ANSWER_WAIT_MS * 0.9, `waited ${Math.round(waited)} ms for a request never answered`);
      assert.ok(waited < 2000 + 1000, `waited ${Math.round(waited)} ms: the wait is bounded`);
      assert.equal(client.closed(), false, 'the unanswered connection goes on');
    }
  }
});

test('an ejected endpoint is used all the same when every endpoint is ejected', LIMIT, async (t) => {
  const port = await freePort();
  const later = await freePort();
  const registry = new Registry();
  const p = proxy(t, { registry, ejectMs: 60_000 });
  await p.apply(table(1, { [port]: [`${HOST}:${later}`] }));
  const first = await dial(t, port);
  await waitFor('the first client closed', first.closed);
  assert.equal(await metric(registry, 'warren_ingress_ejections_total'), 1);
  const server = createServer((socket) => socket.end('back\n'));
  await listen(server, later);
  t.after(() => close(server));
  assert.equal((await greeted(t, port)).name, 'back');
});

test('a refused endpoint is ejected and its client served by another, unaware', LIMIT, async (t) => {
  const good = await endpoint(t, 'good');
  const refused = `${HOST}:${await freePort()}`;
  const registry = new Registry();
  const p = proxy(t, { registry, ejectMs: 60_000 });
  const port = await freePort();
  await p.apply(table(1, { [port]: [refused, good.address] }));
  // The second connection would go to the idle endpoint, if the first has not tried it already.
  for (let i = 0; i < 2; i++) assert.equal((await greeted(t, port)).name, 'good');
  assert.equal(await metric(registry, 'warren_ingress_retries_total', { service: 'web' }), 1);
  assert.equal(await metric(registry, 'warren_ingress_ejections_total', { service: 'web' }), 1);
  // Ejected: skipped although it has no connection at all.
  for (let i = 0; i < 3; i++) assert.equal((await greeted(t, port)).name, 'good');
  assert.equal(await metric(registry, 'warren_ingress_retries_total'), 1);
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'forwarded' }), 5);
  assert.deepEqual([...p.activeConnections.keys()], [good.address]);
});

test('an endpoint that closes without answering is retried, the client’s bytes replayed', LIMIT, async (t) => {
  const good = await endpoint(t, 'good');
  const closer = await endpoint(t, 'closer', 'closer');
  const registry = new Registry();
  const p = proxy(t, { registry, ejectMs: 60_000 });
  const port = await freePort();
  await p.apply(table(1, { [port]: [closer.address, good.address] }));
  for (let i = 0; i < 2; i++) {
    const client = await dial(t, port);
    client.socket.write('hello');
    await waitFor('the answer of the good endpoint', () => client.text() === 'good\nhello');
  }
  assert.equal(closer.accepted, 1);
  assert.equal(closer.received, 'hello');
  assert.equal(good.received, 'hellohello');
  assert.equal(await metric(registry, 'warren_ingress_retries_total'), 1);
  assert.equal(await metric(registry, 'warren_ingress_ejections_total'), 1);
});

test('a client that connects and ends without a word (a TCP check) blames no endpoint', LIMIT, async (t) => {
  const quiet = [await endpoint(t, 'a', 'silent'), await endpoint(t, 'b', 'silent')];
  const registry = new Registry();
  const p = proxy(t, { registry });
  const port = await freePort();
  await p.apply(table(1, { [port]: quiet.map((e) => e.address) }));
  for (let i = 0; i < 4; i++) {
    const client = await dial(t, port);
    client.socket.end();
    await waitFor('the check ended', client.closed);
  }
  assert.equal(await metric(registry, 'warren_ingress_ejections_total'), 0);
  assert.equal(await metric(registry, 'warren_ingress_retries_total'), 0);
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'forwarded' }), 4);
});

test('an endpoint with an impossible address fails its attempt, never the proxy', LIMIT, async (t) => {
  const good = await endpoint(t, 'good');
  const registry = new Registry();
  const p = proxy(t, { registry });
  const port = await freePort();
  await p.apply(table(1, { [port]: [`${HOST}:70000`, good.address] }));
  for (let i = 0; i < 3; i++) assert.equal((await greeted(t, port)).name, 'good');
  assert.ok((await metric(registry, 'warren_ingress_ejections_total')) >= 1);
});

test('when every endpoint fails the client’s socket is closed (failed)', LIMIT, async (t) => {
  const down = [`${HOST}:${await freePort()}`, `${HOST}:${await freePort()}`];
  const registry = new Registry();
  const p = proxy(t, { registry });
  const port = await freePort();
  await p.apply(table(1, { [port]: down }));
  const client = await dial(t, port);
  await waitFor('the client closed', client.closed);
  assert.equal(client.text(), '');
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'failed' }), 1);
  assert.equal(await metric(registry, 'warren_ingress_ejections_total'), 2);
  assert.equal(await metric(registry, 'warren_ingress_retries_total'), 1);
  assert.equal(p.activeConnections.size, 0);
});

test('a port without endpoints closes its clients (no_endpoint)', LIMIT, async (t) => {
  const registry = new Registry();
  const p = proxy(t, { registry });
  const port = await freePort();
  await p.apply(table(1, { [port]: [] }));
  const client = await dial(t, port);
  await waitFor('the client closed', client.closed);
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'no_endpoint' }), 1);
  assert.equal(await metric(registry, 'warren_ingress_connections_total', { outcome: 'failed' }), 0);
});

test('a port taken is named in bindErrors and bound by a later table once free', LIMIT, async (t) => {
  const a = await endpoint(t, 'a');
  const blocker = createServer();
  const port = await listen(blocker, await freePort());
  const p = proxy(t);
  assert.deepEqual(await p.apply(table(1, { [port]: [a.address] })), {
    version: 1,
    bindErrors: [{ published: port, error: `cannot listen on ${HOST}:${port}: address already in use` }],
  });
  await close(blocker);
  assert.deepEqual(await p.apply(table(2, { [port]: [a.address] })), { version: 2, bindErrors: [] });
  assert.equal((await greeted(t, port)).name, 'a');
});

test('a port taken is tried again on a timer, and the news reported', LIMIT, async (t) => {
  const a = await endpoint(t, 'a');
  const blocker = createServer();
  const port = await listen(blocker, await freePort());
  const reports: unknown[] = [];
  const p = proxy(t, { rebindMs: 20, onBindErrors: (applied) => reports.push(applied) });
  assert.equal((await p.apply(table(1, { [port]: [a.address] }))).bindErrors.length, 1);
  await close(blocker);
  await waitFor('a report', () => reports.length > 0);
  assert.deepEqual(reports, [{ version: 1, bindErrors: [] }]);
  assert.equal((await greeted(t, port)).name, 'a');
});

test('a port gone from the table stops accepting; its open connections go on', LIMIT, async (t) => {
  const a = await endpoint(t, 'a');
  const p = proxy(t);
  const port = await freePort();
  await p.apply(table(1, { [port]: [a.address] }));
  const held = await greeted(t, port);
  await p.apply(table(2, {}));
  await assert.rejects(dial(t, port), { code: 'ECONNREFUSED' });
  held.client.socket.write('on');
  await waitFor('the echo', () => held.client.text() === 'a\non');
});

test('20 MB go through intact both ways, half-close included', LIMIT, async (t) => {
  const echo = createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  const echoPort = await listen(echo);
  t.after(() => close(echo));
  const p = proxy(t);
  const port = await freePort();
  await p.apply(table(1, { [port]: [`${HOST}:${echoPort}`] }));
  const payload = randomBytes(20 * 1024 * 1024);
  const client = await dial(t, port);
  const chunks: Buffer[] = [];
  client.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => client.socket.once('end', resolve));
  client.socket.end(payload);
  await ended;
  assert.ok(Buffer.concat(chunks).equals(payload), 'the bytes echoed are the bytes sent');
});

test('tables apply in version order: an older one is ignored, a waiting one replaced', LIMIT, async (t) => {
  const [a, b] = await Promise.all([endpoint(t, 'a'), endpoint(t, 'b')]);
  const p = proxy(t);
  const port = await freePort();
  await p.apply(table(2, { [port]: [a.address] }));
  assert.deepEqual(await p.apply(table(1, { [port]: [b.address] })), { version: 2, bindErrors: [] });
  assert.equal((await greeted(t, port)).name, 'a');
  const results = await Promise.all([
    p.apply(table(3, { [port]: [b.address] })),
    p.apply(table(4, { [port]: [a.address] })),
    p.apply(table(5, { [port]: [b.address] })),
  ]);
  assert.deepEqual(
    results.map((r) => r.version),
    [3, 5, 5],
  );
  assert.equal(p.version, 5);
  assert.equal((await greeted(t, port)).name, 'b');
});

test('stop closes every listener and connection', LIMIT, async (t) => {
  const a = await endpoint(t, 'a');
  const p = proxy(t);
  const ports = [await freePort(), await freePort()];
  await p.apply(table(1, { [ports[0]!]: [a.address], [ports[1]!]: [a.address] }));
  const held = await greeted(t, ports[0]!);
  await p.stop();
  await waitFor('the client closed', held.client.closed);
  for (const port of ports) await assert.rejects(dial(t, port), { code: 'ECONNREFUSED' });
  assert.equal(p.activeConnections.size, 0);
  await assert.rejects(p.apply(table(2, {})), /stopped/);
});
