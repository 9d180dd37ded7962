/**
 * The README's usage exactly as a newcomer types it: `npm start` in one shell, `npx warren …`
 * from the repository root in another. Nothing here calls dist/main.js directly: a CLI that is
 * built but not linked as `warren` fails this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, docker, runToEnd, waitFor, type CliResult } from '../helpers/cluster.js';

/** A port that was free a moment ago (the cluster under test binds it next). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `npx --no-install warren ARGS` from the repository root, as the README says. */
function npxWarren(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return runToEnd('npx', ['--no-install', 'warren', ...args], env, 60_000);
}

test('npm start, then npx warren from the repository root: create, list, inspect, remove; Ctrl-C stops it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-readme-'));
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  // The CLI finds the manager's socket in the data dir (by default ./.warren/warren.sock).
  const env = { WARREN_MANAGER: `unix:${dataDir}/warren.sock` };
  const listen = `127.0.0.1:${grpcPort}`;
  const service = `readme${process.pid}`;
  // Its own process group, so that SIGINT reaches npm, the start script, warren and pino-pretty
  // together, as Ctrl-C in a terminal does.
  const start = spawn(
    'npm',
    ['start', '--', '--data-dir', dataDir, '--listen', listen, '--http', `127.0.0.1:${httpPort}`],
    {
      cwd: ROOT,
      env: { ...process.env, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let output = '';
  start.stdout.on('data', (c: Buffer) => (output += c.toString()));
  start.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<string>((resolve) => start.on('exit', (code, signal) => resolve(signal ?? String(code))));
  t.after(async () => {
    if (start.exitCode === null && start.signalCode === null) {
      process.kill(-start.pid!, 'SIGKILL');
      await exited;
    }
    const left = await docker.listContainers({ all: true, filters: { label: [`warren.service.name=${service}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    await rm(dataDir, { recursive: true, force: true });
  });

  const help = await npxWarren(env, '--help');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: warren/);

  await waitFor(
    'the local node to be ready',
    async () => {
      const res = await npxWarren(env, 'node', 'ls', '--format', 'json');
      return res.code === 0 && (JSON.parse(res.stdout) as Array<{ status: string }>).some((n) => n.status === 'ready');
    },
    120_000,
    500,
  );

  const created = await npxWarren(
    env,
    'service',
    'create',
    service,
    '--image',
    'warren-test',
    '--replicas',
    '2',
    '--',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/www',
  );
  assert.equal(created.code, 0, created.stderr);
  // It waited for the replicas, as docker service create does, and said so on the last line.
  assert.match(created.stdout, new RegExp(`^${service}: 2/2 running$`, 'm'), created.stdout);
  const ls = await npxWarren(env, 'service', 'ls');
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`${service}\\b`));
  await waitFor(
    '2 running tasks',
    async () => {
      const ps = await npxWarren(env, 'service', 'ps', service, '--format', 'json');
      const tasks = JSON.parse(ps.stdout) as Array<{ state: string; desiredState: string }>;
      return tasks.filter((x) => x.state === 'running' && x.desiredState === 'running').length === 2;
    },
    60_000,
    300,
  );
  const inspect = await npxWarren(env, 'service', 'inspect', service);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /warren-test/);

  const removed = await npxWarren(env, 'service', 'rm', service);
  assert.equal(removed.code, 0, removed.stderr);
  await waitFor(
    'its containers removed',
    async () =>
      (await docker.listContainers({ all: true, filters: { label: [`warren.service.name=${service}`] } })).length ===
      0,
    60_000,
  );

  process.kill(-start.pid!, 'SIGINT');
  const how = await exited;
  // npm itself re-raises the SIGINT it got (as it does for Ctrl-C); warren below it must have
  // shut down cleanly: every component said so, in order, and nothing failed.
  assert.equal(how, 'SIGINT', output.slice(-2000));
  // One line per record: `[time] INFO: <component>: <message> {fields}`.
  const shutdown = [
    'shutting down',
    'worker: worker stopped',
    'manager: manager stopping',
    'manager: manager stopped',
  ].map((line) => output.indexOf(`INFO: ${line}`));
  assert.ok(
    shutdown.every((at, i) => at > 0 && (i === 0 || at > shutdown[i - 1]!)),
    output.slice(-2000),
  );
  assert.doesNotMatch(output, /(ERROR|FATAL):/);
});
