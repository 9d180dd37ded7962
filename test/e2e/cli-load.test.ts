/**
 * What a command loads before it answers (issue 19): `--version`, `--help` and a bad flag load no
 * gRPC; a command over the local socket loads gRPC and no certificate library. Run through the
 * `warren` bin as users run it (the bundled CLI), with a preload that reports at exit whether
 * Node's http2 (gRPC's transport) was loaded, and whether reflect-metadata (which the x509
 * library brings) defined Reflect.getMetadata.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, Cluster, runToEnd } from '../helpers/cluster.js';

let c: Cluster;
let dir = '';
let preload = '';
before(async () => {
  c = await Cluster.create();
  dir = await mkdtemp(join(tmpdir(), 'warren-cli-load-'));
  preload = join(dir, 'report.cjs');
  await writeFile(
    preload,
    `process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify({
      grpc: process.moduleLoadList.includes('NativeModule http2'),
      x509: typeof Reflect.getMetadata === 'function',
    }) + '\\n'));\n`,
  );
});
after(async () => {
  await c.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function loads(...args: string[]): Promise<{ code: number | null; grpc: boolean; x509: boolean }> {
  const res = await runToEnd(process.execPath, ['--require', preload, CLI, ...args]);
  const line = /^LOADED (.*)$/m.exec(res.stderr);
  assert.ok(line, `the preload reported: ${res.stderr}`);
  return { code: res.code, ...(JSON.parse(line[1]!) as { grpc: boolean; x509: boolean }) };
}

test('--version, --help and bad flags load no gRPC', async () => {
  assert.deepEqual(await loads('--version'), { code: 0, grpc: false, x509: false });
  assert.deepEqual(await loads('service', 'create', '--help'), { code: 0, grpc: false, x509: false });
  assert.deepEqual(await loads('service', 'create', 'web', '--image', 'x', '--replicas', '-1'), {
    code: 2,
    grpc: false,
    x509: false,
  });
  assert.deepEqual(await loads('swarm', 'init', '--help'), { code: 2, grpc: false, x509: false });
  assert.deepEqual(await loads('stack', 'deploy', '--help'), { code: 0, grpc: false, x509: false });
});

test('a command over the local socket loads gRPC and no certificate library', async () => {
  assert.deepEqual(await loads('--manager', c.control, 'service', 'ls'), { code: 0, grpc: true, x509: false });
  assert.deepEqual(await loads('--manager', c.control, 'node', 'ls'), { code: 0, grpc: true, x509: false });
  // The report tells: making a client certificate does load it.
  const issued = await loads('--manager', c.control, 'cert', 'issue', '--out', join(dir, 'client'));
  assert.deepEqual(issued, { code: 0, grpc: true, x509: true });
});
