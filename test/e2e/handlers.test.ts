import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { Semaphore, execProbe, httpProbe, tcpProbe } from '@warren/worker';
import type { ProbeHandler } from '@warren/core';
import { TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';

type Http = Extract<ProbeHandler, { kind: 'http' }>;
const http = (port: number, over: Partial<Http> = {}): Http => ({
  kind: 'http',
  path: '/health',
  port,
  scheme: 'http',
  headers: [],
  statusMin: 200,
  statusMax: 399,
  ...over,
});
const local = { containerId: '', address: '127.0.0.1' };

/** A container that sleeps, for exec probes; removed after the test. */
async function sleeper(t: import('node:test').TestContext): Promise<Docker.Container> {
  const container = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sleep', '1000'],
    HostConfig: { Init: true },
    Labels: { 'warren.test': 'handlers' },
  });
  t.after(() => container.remove({ force: true }));
  await container.start();
  return container;
}

/** How many processes in the container run exactly `args` (read by the engine from the host, no exec). */
async function running(container: Docker.Container, args: string): Promise<number> {
  const top = (await container.top({ ps_args: '-o pid,args' })) as { Processes: string[][] };
  return top.Processes.filter((row) => row.at(-1) === args).length;
}

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
  assert.equal(
    (await httpProbe(http(port, { path: '/teapot', statusMin: 400, statusMax: 499 }), local, 1000)).outcome,
    'success',
  );
  const big = await httpProbe(http(port, { path: '/big' }), local, 1000);
  assert.equal(big.output.length, 10 * 1024);
  const hung = await httpProbe(http(port, { path: '/hang' }), local, 150);
  assert.deepEqual(hung, { outcome: 'failure', output: 'timed out after 150ms' });

  for (let i = 0; i < 3; i++) await httpProbe(http(port), local, 1000);
  assert.ok(sockets.size >= 7, 'a new connection for every probe');

  const closed = createTcp();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  assert.deepEqual(await httpProbe(http(closedPort), local, 1000), {
    outcome: 'failure',
    output: 'connection refused',
  });
});

test('HTTPS probe does not verify the certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=warren-test',
    ],
    { stdio: 'ignore' },
  );
  const server = createHttps(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (_req, res) => res.end('secure'),
  );
  const port = await listen(server as unknown as Server);
  t.after(() => server.close());
  assert.deepEqual(await httpProbe(http(port, { scheme: 'https' }), local, 2000), {
    outcome: 'success',
    code: 200,
    output: 'secure',
  });
});

test('TCP probe: success on connect, failure when refused', async (t) => {
  const server = createTcp((s) => s.destroy());
  const port = await listen(server);
  t.after(() => server.close());
  assert.equal((await tcpProbe({ kind: 'tcp', port }, local, 1000)).outcome, 'success');
  const closed = createTcp();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  assert.deepEqual(await tcpProbe({ kind: 'tcp', port: closedPort }, local, 1000), {
    outcome: 'failure',
    output: 'connection refused',
  });
});

test('exec probe: exit code and output; a hung check is killed with its children; unknown when Docker cannot run it', async (t) => {
  const container = await sleeper(t);
  const limit = new Semaphore(2);
  const target = { containerId: container.id, address: '' };
  const run = (command: string[], timeoutMs = 2000) =>
    execProbe(docker, limit, { kind: 'exec', command }, target, timeoutMs);

  const both = await run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 0']);
  assert.equal(both.outcome, 'success');
  assert.equal(both.code, 0);
  // stdout and stderr travel separately: both are kept, in whichever order Docker sends them.
  assert.deepEqual(both.output.split('\n').filter(Boolean).sort(), ['err', 'out']);
  assert.deepEqual(await run(['/bin/sh', '-c', 'echo not ready; exit 3']), {
    outcome: 'failure',
    code: 3,
    output: 'not ready\n',
  });
  const long = await run(['/bin/sh', '-c', 'head -c 20000 /dev/zero | tr "\\0" y']);
  assert.equal(long.output.length, 4096, 'output capped at 4 KiB');
  // The timeout covers the engine's create and start too: generous, so a loaded engine still
  // starts the check in time, which then sleeps far longer.
  const hung = await run(['/bin/sh', '-c', 'sleep 901 & sleep 901'], 1500);
  assert.deepEqual(hung, { outcome: 'failure', output: 'timed out after 1500ms' });
  await waitFor(
    'the hung check and its child killed',
    async () => (await running(container, 'sleep 901')) === 0,
    10_000,
  );

  await container.stop({ t: 0 });
  const stopped = await run(['true']);
  assert.equal(stopped.outcome, 'unknown');
  assert.match(stopped.output, /exec could not be started: .*not running/);
});

/**
 * The real engine behind a thin wrapper that holds back its answers to exec create and start,
 * as a loaded engine does, until `answer` resolves. `late: 'start-call'` holds back the start
 * call itself (the process starts late), `'start-answer'` only its answer (the process runs
 * while the probe waits), `'create'` the answer to create.
 */
function slowEngine(late: 'create' | 'start-call' | 'start-answer', answer: Promise<void>) {
  const created: Array<{ exec: Docker.Exec; startCalls: number }> = [];
  const engine = {
    getContainer(id: string) {
      const container = docker.getContainer(id);
      return {
        async exec(options: Docker.ExecCreateOptions) {
          // The engine itself goes on, whatever the probe gave up on; only its answer is late.
          const exec = await container.exec({ ...options, abortSignal: undefined });
          const seen = { exec, startCalls: 0 };
          created.push(seen);
          if (late === 'create') await answer;
          return {
            id: exec.id,
            inspect: (o?: Docker.ExecInspectOptions) => exec.inspect(o),
            async start(o: Docker.ExecStartOptions) {
              seen.startCalls++;
              if (late === 'start-call') await answer;
              const stream = await exec.start(o);
              if (late === 'start-answer') await answer;
              return stream;
            },
          };
        },
      };
    },
  };
  return { engine: engine as unknown as Docker, created };
}

test('exec probe: a check the engine starts after the run gave up is killed; one created too late never starts', async (t) => {
  const container = await sleeper(t);
  const target = { containerId: container.id, address: '' };
  const limit = new Semaphore(1);
  for (const late of ['start-call', 'start-answer'] as const) {
    let gaveUp!: () => void;
    const { engine, created } = slowEngine(late, new Promise((resolve) => (gaveUp = resolve)));
    const result = await execProbe(engine, limit, { kind: 'exec', command: ['sleep', '902'] }, target, 500);
    gaveUp();
    assert.deepEqual(
      result,
      {
        outcome: 'unknown',
        output: 'exec could not be started: the Docker engine did not start the exec within 500ms',
      },
      late,
    );
    const [seen] = created;
    assert.equal(seen?.startCalls, 1, late);
    // It did run (an exit code) and was killed (SIGKILL: 128 + 9).
    const info = await waitFor(
      `the late check exited (${late})`,
      async () => {
        const i = await seen.exec.inspect();
        return i.ExitCode !== null ? i : undefined;
      },
      10_000,
    );
    assert.equal(info.ExitCode, 137, late);
    await waitFor(`no late check left (${late})`, async () => (await running(container, 'sleep 902')) === 0, 10_000);
  }

  let gaveUp!: () => void;
  const created = slowEngine('create', new Promise((resolve) => (gaveUp = resolve)));
  const result = await execProbe(created.engine, limit, { kind: 'exec', command: ['sleep', '903'] }, target, 500);
  assert.equal(result.outcome, 'unknown');
  gaveUp();
  // The create's late answer is handed on within a turn or two of the event loop; a start
  // would follow at once.
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(created.created[0]?.startCalls, 0, 'an exec created after the deadline is never started');
  const info = await created.created[0]!.exec.inspect();
  assert.equal(info.Running, false);
  assert.equal(info.ExitCode, null);
  assert.equal(await running(container, 'sleep 903'), 0);
});

test('exec probe: with timeouts too short for the engine, no run leaves its check behind', async (t) => {
  const container = await sleeper(t);
  const target = { containerId: container.id, address: '' };
  const limit = new Semaphore(4);
  // From shorter than the engine's create to long enough for a start: the deadline falls before
  // the create, between create and start, during the start and while the check runs.
  const timeouts = [1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150].flatMap((ms) => [ms, ms]);
  const results = await Promise.all(
    timeouts.map((ms) => execProbe(docker, limit, { kind: 'exec', command: ['sleep', '904'] }, target, ms)),
  );
  for (const [i, r] of results.entries()) {
    assert.ok(r.outcome === 'unknown' || r.output === `timed out after ${timeouts[i]}ms`, JSON.stringify(r));
  }
  await waitFor('no check left running', async () => (await running(container, 'sleep 904')) === 0, 20_000);
});
