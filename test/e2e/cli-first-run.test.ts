/**
 * What a newcomer meets first: `warren --version`, `warren version`, and a daemon started on an
 * address that is already taken (one line naming the address and its flag, exit 1, nothing left
 * running or locked).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '@warren/api';
import { CLI, Cluster, runWarren, spawnWarren, type CliResult } from '../helpers/cluster.js';

/** Listens on a free loopback port with a plain TCP server until the test ends; `host:port`. */
async function holdPort(t: TestContext): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback address nothing listens on (bound, then released). */
async function freeAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/** A socket path nothing listens on. */
async function freeSocketPath(): Promise<string> {
  return join(tmpdir(), `warren-nothing-${process.pid}-${Date.now()}.sock`);
}

async function tempDataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-first-run-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Exit 1 and exactly one line on stderr naming the address and the flag; no raw gRPC text. */
function assertInUse(res: CliResult, address: string, flag: string): void {
  const line = `error: ${address} is already in use (${flag}): another warren may be running; choose another with ${flag}\n`;
  assert.equal(res.stderr, line, 'one line on stderr');
  assert.equal(res.code, 1);
  assert.doesNotMatch(res.stdout + res.stderr, /No address added|EADDRINUSE|errors: \[/);
}

/** The manager starts on `dataDir`: the failed start left no lock behind. */
async function assertDataDirFree(t: TestContext, dataDir: string): Promise<void> {
  const manager = spawnWarren(['manager', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  t.after(() => manager.kill());
  await manager.waitForLog((l) => l.msg === 'manager started');
  // A signal at any moment, even before the daemon has finished starting, ends it by itself.
  assert.notEqual(await manager.stop(), null, 'exited on its own, not killed by the signal');
}

const clientBlock = new RegExp(
  `^Client:\\n  Version: +${VERSION.replaceAll('.', '\\.')}\\n  Node version: +${process.version}\\n  OS/Arch: +${process.platform}/${process.arch}\\n`,
);

test('warren --version prints the version and exits 0', async () => {
  for (const flag of ['--version', '-v']) {
    const res = await runWarren([flag]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${VERSION}\n`);
    assert.equal(res.stderr, '');
  }
});

test('warren --help into a reader that is gone (| head): it exits 0 without a stack trace', async () => {
  const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // as `head` does once it has its lines
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('warren version shows the client and the manager that answers', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const res = await c.cli('version');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stderr, '');
  assert.match(res.stdout, clientBlock);
  const [, server] = res.stdout.split('\n\n');
  assert.match(server!, /^Server:\n/);
  assert.ok(
    new RegExp(`\\n  Manager: +${c.control.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`).test(server!),
    server,
  );
  assert.match(server!, /\n {2}Started: +\d{4}-\d\d-\d\dT[\d:.]+Z \(.+ ago\)\n$/);
  const versions = [...res.stdout.matchAll(/^ {2}Version: +(\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(versions, [VERSION, VERSION], 'client and server report the same version');
});

test('warren version without a manager prints the client block, then one error line, and exits 1', async () => {
  const address = `unix:${await freeSocketPath()}`;
  const res = await runWarren(['--manager', address, 'version']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, clientBlock);
  assert.doesNotMatch(res.stdout, /Server:/);
  assert.equal(res.stderr.split('\n').filter(Boolean).length, 1, res.stderr);
  assert.match(res.stderr, new RegExp(`^error: cannot reach the manager at ${address} .*is it running\\?`));
});

test('a manager on an address in use says which flag to change, exits 1 and leaves its data dir free', async (t) => {
  const dataDir = await tempDataDir(t);
  const held = await holdPort(t);
  assertInUse(
    await runWarren(['manager', '--data-dir', dataDir, '--listen', held, '--http', '127.0.0.1:0']),
    held,
    '--listen',
  );
  assertInUse(
    await runWarren(['manager', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', held]),
    held,
    '--http',
  );
  await assertDataDirFree(t, dataDir);
});

test('a worker on an address in use says which flag to change and exits 1', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const held = await holdPort(t);
  const worker = (name: string, ...flags: string[]): Promise<CliResult> => runWarren(c.workerArgs(name, flags));
  assertInUse(await worker('grpc', '--grpc', held), held, '--grpc');
  assertInUse(await worker('http', '--http', held), held, '--http');
});

test('warren up on an address in use stops the manager it started and leaves its data dir free', async (t) => {
  const dataDir = await tempDataDir(t);
  const held = await holdPort(t);
  const up = (...flags: string[]): Promise<CliResult> =>
    runWarren(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...flags]);
  const res = await up('--worker-http', held);
  assertInUse(res, held, '--worker-http');
  assert.match(res.stdout, /"msg":"manager stopped"/, 'the manager that had started is stopped');
  await assertDataDirFree(t, dataDir);
});

test('two flags asking for the same address are refused before anything starts', async (t) => {
  const dataDir = await tempDataDir(t);
  const address = await freeAddress();
  const res = await runWarren(['manager', '--data-dir', dataDir, '--listen', address, '--http', address]);
  assert.equal(res.code, 2);
  assert.equal(res.stderr, `error: --http "${address}": --listen already asks for it; give each its own port\n`);
  assert.equal(res.stdout, '');
});
