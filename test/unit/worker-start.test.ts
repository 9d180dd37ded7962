import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { Manager } from '@warren/manager';
import { Worker } from '@warren/worker';

const logger = pino({ level: 'silent' });
// The refused binds are the point here: grpc-js need not print them.
grpc.setLogVerbosity(grpc.logVerbosity.NONE);

/** The two calls a worker makes of its engine before it serves: a ping and the image list. */
async function fakeEngine(dir: string): Promise<{ socketPath: string; server: Server }> {
  const socketPath = join(dir, 'docker.sock');
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) res.end('OK');
    else if (req.url?.startsWith('/images/json')) res.setHeader('Content-Type', 'application/json').end('[]');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, server };
}

async function listening(): Promise<{ address: string; port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { address: `127.0.0.1:${port}`, port, server };
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/** Until `check` holds, for at most `timeoutMs`. */
async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

async function setup(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'warren-worker-start-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const engine = await fakeEngine(dir);
  t.after(() => new Promise((resolve) => engine.server.close(resolve)));
  const manager = await Manager.start({ dataDir: dir, listen: '127.0.0.1:0', http: '127.0.0.1:0', logger });
  t.after(() => manager.stop(100));
  const base = {
    manager: manager.address,
    token: manager.token,
    dataDir: join(dir, 'worker'),
    name: 'start-test',
    logger,
    docker: { socketPath: engine.socketPath },
  };
  return { manager, base };
}

test('a worker the manager refuses releases its connection to the manager', async (t) => {
  const { base } = await setup(t);
  const before = tcpSockets();
  // The secret is base64url (it may hold or end with "-"): the whole of it after the CA hash is replaced.
  const wrongSecret = base.token.replace(/^(WRN-1-[0-9a-f]{64}-).+$/, `$1${'x'.repeat(32)}`);
  assert.notEqual(wrongSecret, base.token);
  await assert.rejects(Worker.start({ ...base, token: wrongSecret }), { name: 'UnauthenticatedError' });
  await eventually('the connection to the manager closed', () => tcpSockets() === before);
});

test('a worker whose HTTP address is taken releases the manager connection it had opened', async (t) => {
  const { base } = await setup(t);
  const taken = await listening();
  t.after(() => taken.server.close());
  const before = tcpSockets();
  await assert.rejects(Worker.start({ ...base, http: taken.address }), /already in use/);
  await eventually('the connection to the manager closed', () => tcpSockets() === before);
});

test('a worker whose gRPC address is taken closes its HTTP endpoint and the manager connection', async (t) => {
  const { base } = await setup(t);
  const taken = await listening();
  t.after(() => taken.server.close());
  const http = await listening();
  await new Promise((resolve) => http.server.close(resolve));
  const before = tcpSockets();
  await assert.rejects(Worker.start({ ...base, http: http.address, grpc: taken.address }), /already in use/);
  await eventually('the connection to the manager closed', () => tcpSockets() === before);
  const again = createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(http.port, '127.0.0.1', resolve));
  again.close();
});
