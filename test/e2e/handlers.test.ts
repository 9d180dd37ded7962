import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Semaphore, execProbe, httpProbe, tcpProbe } from '@warren/worker';
import type { ProbeHandler } from '@warren/core';
import { TEST_IMAGE, docker } from '../helpers/cluster.js';

type Http = Extract<ProbeHandler, { kind: 'http' }>;
const http = (port: number, over: Partial<Http> = {}): Http => ({ kind: 'http', path: '/health', port, scheme: 'http', headers: [], statusMin: 200, statusMax: 399, ...over });
const local = { containerId: '', address: '127.0.0.1' };

async function listen(server: Server | ReturnType<typeof createHttp>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

test('HTTP probe: custom headers, Connection: close, status range, 10 KiB body cap, timeout, refused', async (t) => {
  let seen: IncomingHttpHeaders = {};
  const sockets = new Set<unknown>();
  const server = createHttp((req, res) => {
    seen = req.headers;
    if (req.url === '/health') res.end('fine');
    else if (req.url === '/teapot') res.writeHead(418).end('short and stout');
    else if (req.url === '/big') res.end('x'.repeat(100_000));
    // '/hang' never answers
  });
  server.on('connection', (s) => sockets.add(s));
  const port = await listen(server);
  t.after(() => server.closeAllConnections());
  t.after(() => server.close());

  const ok = await httpProbe(http(port, { headers: [{ name: 'X-Probe', value: 'warren' }] }), local, 1000);
  assert.deepEqual(ok, { outcome: 'success', code: 200, output: 'fine' });
  assert.equal(seen['x-probe'], 'warren');
  assert.equal(seen.connection, 'close');

  assert.equal((await httpProbe(http(port, { path: '/teapot' }), local, 1000)).outcome, 'failure');
  assert.equal((await httpProbe(http(port, { path: '/teapot', statusMin: 400, statusMax: 499 }), local, 1000)).outcome, 'success');
  const big = await httpProbe(http(port, { path: '/big' }), local, 1000);
  assert.equal(big.output.length, 10 * 1024);
  const hung = await httpProbe(http(port, { path: '/hang' }), local, 150);
  assert.deepEqual(hung, { outcome: 'failure', output: 'timed out after 150ms' });

  for (let i = 0; i < 3; i++) await httpProbe(http(port), local, 1000);
  assert.ok(sockets.size >= 7, 'a new connection for every probe');

  const closed = createTcp();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  assert.deepEqual(await httpProbe(http(closedPort), local, 1000), { outcome: 'failure', output: 'connection refused' });
});

test('HTTPS probe does not verify the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=warren-test'], { stdio: 'ignore' });
  const server = createHttps({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('secure'));
  const port = await listen(server as unknown as Server);
  t.after(() => server.close());
  assert.deepEqual(await httpProbe(http(port, { scheme: 'https' }), local, 2000), { outcome: 'success', code: 200, output: 'secure' });
});

test('TCP probe: success on connect, failure when refused', async (t) => {
  const server = createTcp((s) => s.destroy());
  const port = await listen(server);
  t.after(() => server.close());
  assert.equal((await tcpProbe({ kind: 'tcp', port }, local, 1000)).outcome, 'success');
  const closed = createTcp();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  assert.deepEqual(await tcpProbe({ kind: 'tcp', port: closedPort }, local, 1000), { outcome: 'failure', output: 'connection refused' });
});

test('exec probe: exit code and output; unknown when Docker cannot run it (not the task\'s fault)', async (t) => {
  const container = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['sleep', '1000'], HostConfig: { Init: true }, Labels: { 'warren.test': 'handlers' } });
  t.after(() => container.remove({ force: true }));
  await container.start();
  const limit = new Semaphore(2);
  const target = { containerId: container.id, address: '' };
  const run = (command: string[], timeoutMs = 2000) => execProbe(docker, limit, { kind: 'exec', command }, target, timeoutMs);

  const both = await run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 0']);
  assert.equal(both.outcome, 'success');
  assert.equal(both.code, 0);
  // stdout and stderr travel separately: both are kept, in whichever order Docker sends them.
  assert.deepEqual(both.output.split('\n').filter(Boolean).sort(), ['err', 'out']);
  assert.deepEqual(await run(['/bin/sh', '-c', 'echo not ready; exit 3']), { outcome: 'failure', code: 3, output: 'not ready\n' });
  const long = await run(['/bin/sh', '-c', 'head -c 20000 /dev/zero | tr "\\0" y']);
  assert.equal(long.output.length, 4096, 'output capped at 4 KiB');
  assert.deepEqual(await run(['sleep', '5'], 100), { outcome: 'failure', output: 'timed out after 100ms' });

  await container.stop({ t: 0 });
  const stopped = await run(['true']);
  assert.equal(stopped.outcome, 'unknown');
  assert.match(stopped.output, /exec could not be started: .*not running/);
});
