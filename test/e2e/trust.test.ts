/**
 * Trust between nodes (DESIGN section 8), end to end with real daemons: the cluster CA, joining
 * with a token that pins it, mutual TLS, renewal, revocation, the local socket and remote CLIs
 * with client certificates, and a fuzz of both gRPC services with and without credentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  CertificateSource,
  ClusterCa,
  TLS_CHANNEL_OPTIONS,
  newKeyAndCsr,
  channelCredentials,
  identityOfPem,
  unary,
  warrenProto,
} from '@warren/api';
import { Cluster, TEST_IMAGE, spawnWarren, waitFor } from '../helpers/cluster.js';

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

async function tempDir(t: import('node:test').TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('key files are 0600; the local socket is 0600; a restarted worker needs no token', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  for (const file of ['certs/ca.key', 'certs/ca.crt', 'workers/w1/node.key', 'workers/w1/node.crt']) {
    assert.equal(await mode(join(c.dataDir, file)), 0o600, file);
  }
  assert.equal(await mode(c.control.slice('unix:'.length)), 0o600, 'the socket');
  const cert = identityOfPem(await readFile(join(c.workerDir('w1'), 'node.crt'), 'utf8'))!;
  assert.equal(cert.role, 'worker');
  assert.ok(c.nodeIds.has(cert.id), 'its CN is its node id');
  assert.ok(cert.notAfter - Date.now() > 89 * 86_400_000, 'valid for 90 days by default');

  await c.workers.get('w1')!.stop();
  const again = spawnWarren([
    'worker',
    '--manager',
    c.address,
    '--data-dir',
    c.workerDir('w1'),
    '--name',
    c.nodeName('w1'),
  ]);
  c.workers.set('w1', again);
  const registered = await again.waitForLog((l) => l.msg === 'registered with manager');
  assert.equal(registered.id, cert.id, 'the same node, from its certificate');

  const none = spawnWarren(['worker', '--manager', c.address, '--data-dir', join(c.dataDir, 'workers', 'fresh')]);
  assert.equal(await none.exited, 2);
  assert.match(none.stderr, /has not joined a cluster yet; start it with --token/);
});

test('plaintext clients get nothing from the TLS port; nothing they send is stored', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const proto = warrenProto();
  const insecure = grpc.credentials.createInsecure();
  const control = new proto.ControlService(c.address, insecure);
  const workers = new proto.WorkerService(c.address, insecure);
  t.after(() => {
    control.close();
    workers.close();
  });
  const code = (p: Promise<unknown>) =>
    p.then(
      () => grpc.status.OK,
      (err: grpc.ServiceError) => err.code,
    );
  const spec = { name: 'sneaky', image: TEST_IMAGE, replicas: 1 };
  assert.equal(
    await code(unary(control.CreateService, control, { spec }, { timeoutMs: 3000 })),
    grpc.status.UNAVAILABLE,
  );
  assert.equal(
    await code(unary(workers.Register, workers, { token: 'x', name: 'n' }, { timeoutMs: 3000 })),
    grpc.status.UNAVAILABLE,
  );
  assert.equal((await c.ok('service', 'ls')).includes('sneaky'), false);
});

test('remote CLIs: a client certificate from cert issue works over TLS; none, or a node certificate, does not', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const dir = await tempDir(t);
  const issued = await c.ok('cert', 'issue', '--out', dir, '--name', 'laptop');
  assert.match(issued, /Wrote .* for "laptop"/);
  assert.equal(await mode(join(dir, 'key.pem')), 0o600);
  const remote = (...args: string[]) => c.attached('--manager', c.address, ...args);
  const ls = await c.attached('--manager', c.address, '--tls-dir', dir, 'node', 'ls');
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(c.nodeName('w1')));
  const env = await c.cli('node', 'ls');
  assert.equal(env.code, 0);

  const without = await remote('node', 'ls');
  assert.equal(without.code, 2);
  assert.match(without.stderr, /needs a client certificate/);

  // A worker's certificate is the cluster's, but not a client's: the control API refuses it.
  const proto = warrenProto();
  const asWorker = new proto.ControlService(c.address, c.workerCredentials('w1'), TLS_CHANNEL_OPTIONS);
  t.after(() => asWorker.close());
  await assert.rejects(unary(asWorker.ListNodes, asWorker, {}), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.match(err.details, /a worker certificate cannot use the control API/);
    return true;
  });
  const logged = await c.manager.waitForLog((l) => l.msg === 'control call refused');
  assert.equal(typeof logged.peer, 'string', 'the refusal names the peer');

  // Certificates that are not this cluster's, or no longer valid, are refused the same way, and logged.
  const ca = await ClusterCa.load(
    await readFile(join(c.dataDir, 'certs', 'ca.crt'), 'utf8'),
    await readFile(join(c.dataDir, 'certs', 'ca.key'), 'utf8'),
  );
  const clientOf = async (signer: ClusterCa, over: { now?: number; validityMs?: number } = {}) => {
    const { keyPem, csrPem } = await newKeyAndCsr();
    const certPem = await signer.sign({ csrPem, id: 'mallory', role: 'client', ...over });
    const client = new proto.ControlService(
      c.address,
      channelCredentials(new CertificateSource(ca.certPem, certPem, keyPem)),
      TLS_CHANNEL_OPTIONS,
    );
    t.after(() => client.close());
    return client;
  };
  const expired = await clientOf(ca, { now: Date.now() - 3_600_000, validityMs: 60_000 });
  const foreign = await clientOf(await ClusterCa.create());
  for (const client of [expired, foreign]) {
    const spec = { name: 'mallory', image: TEST_IMAGE, replicas: 1 };
    await assert.rejects(unary(client.CreateService, client, { spec }), { code: grpc.status.UNAUTHENTICATED });
  }
  assert.ok(!(await c.ok('service', 'ls')).includes('mallory'), 'nothing stored');
  await c.manager.waitForLog(
    (l) => l.msg === 'control call refused' && /client certificate of this cluster/.test(String(l.reason)),
  );

  // Client certificates are issued on the manager host only.
  const remoteIssue = await c.attached('--manager', c.address, '--tls-dir', dir, 'cert', 'issue', '--out', dir);
  assert.equal(remoteIssue.code, 2);
  assert.match(remoteIssue.stderr, /issued on the manager host only/);
});

test('join-token --rotate: the old token no longer joins, joined nodes carry on, the new one joins', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const old = c.token;
  assert.equal((await c.ok('join-token', '-q')).trim(), old);
  const rotated = (await c.ok('join-token', '--rotate', '-q')).trim();
  assert.notEqual(rotated, old);
  assert.equal(rotated.split('-')[2], old.split('-')[2], 'the CA (its hash) is the same');
  const late = spawnWarren(['worker', '--manager', c.address, '--token', old, '--data-dir', c.workerDir('late')]);
  assert.equal(await late.exited, 2);
  assert.match(late.stderr, /invalid join token/);
  c.token = rotated;
  await c.startWorker('w2');
  const nodes = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{ name: string; status: string }>;
  assert.deepEqual(nodes.map((n) => [n.name, n.status]).sort(), [
    [c.nodeName('w1'), 'ready'],
    [c.nodeName('w2'), 'ready'],
  ]);
});

test('node rm: refused while it runs tasks; --force revokes it, its tasks move, its calls are refused', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const w1 = await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--stop-timeout', '1s', '--', 'sleep', '1000');
  const [task] = await c.waitRunning('web', 1);
  await c.startWorker('w2');
  const onNode = task!.node;
  const refused = await c.cli('node', 'rm', onNode);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /has 1 running task: drain it first/);
  assert.equal((await c.ok('node', 'rm', '--force', onNode)).trim(), `${onNode} removed`);
  const moved = await waitFor(
    'the task on the other node',
    async () => (await c.running('web')).find((x) => x.node !== onNode && x.desiredState === 'running'),
    60_000,
  );
  assert.notEqual(moved.node, onNode);
  const nodes = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{ name: string }>;
  assert.ok(!nodes.some((n) => n.name === onNode), 'gone from node ls');
  // The removed node's worker is refused from then on (it says so and keeps trying).
  const removedWorker = onNode === c.nodeName('w1') ? w1 : c.workers.get('w2')!;
  await removedWorker.waitForLog((l) => /removed from the cluster/.test(String(l.reason ?? l.msg)), 30_000);
  const revoked = await c.manager.waitForLog(
    (l) => l.msg === 'worker call refused' && /revoked|removed/.test(String(l.reason)),
  );
  assert.equal(typeof revoked.peer, 'string');
});

test('certificates renew between 50 and 80 % of their life, without dropping the stream or the tasks', async (t) => {
  const c = await Cluster.create({ managerArgs: ['--cert-expiry', '12s'] });
  t.after(() => c.destroy());
  const w = await c.startWorker('w1');
  const joinedAt = Date.now();
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--stop-timeout', '1s', '--', 'sleep', '1000');
  const [task] = await c.waitRunning('web', 1);
  const first = identityOfPem(await readFile(join(c.workerDir('w1'), 'node.crt'), 'utf8'))!;
  const renewed = await w.waitForLog((l) => l.msg === 'node certificate renewed', 30_000);
  const life = first.notAfter - first.notBefore;
  const at = Number(renewed.time) - first.notBefore;
  assert.ok(at >= 0.5 * life - 1000 && at <= 0.8 * life + 5000, `renewed at ${at} ms of ${life}`);
  const second = identityOfPem(await readFile(join(c.workerDir('w1'), 'node.crt'), 'utf8'))!;
  assert.notEqual(second.serial, first.serial);
  // Past the first certificate's end: the node is still ready on the same stream, the task untouched.
  await waitFor('the first certificate expired', async () => Date.now() > first.notAfter + 1000 || undefined, 30_000);
  await c.ok('service', 'scale', 'web=2');
  await c.waitRunning('web', 2, 60_000);
  assert.ok(
    (await c.running('web')).some((x) => x.id === task!.id),
    'the first task still runs',
  );
  assert.equal(w.lines.filter((l) => l.msg === 'registered with manager').length, 1, 'never registered again');
  assert.equal(c.manager.lines.filter((l) => l.msg === 'worker connected').length, 1, 'one assignment stream');
  assert.ok(Date.now() - joinedAt > 12_000);
});

test('fuzz: 10,000 random and malformed messages to both services, with and without credentials', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--', 'sleep', '1000');
  await c.waitRunning('web', 1);
  const before = [await c.ok('service', 'ls', '--format', 'json'), await c.ok('node', 'ls', '--format', 'json')];
  const proto = warrenProto();
  const methods = [
    ...Object.values(proto.ControlService.service).map((m) => m.path),
    ...Object.values(proto.WorkerService.service).map((m) => m.path),
  ];
  const clients = [
    new grpc.Client(c.address, c.workerCredentials('w1'), TLS_CHANNEL_OPTIONS), // a node's certificate
    new grpc.Client(c.address, channelCredentials({ caPem: c.caPem }), TLS_CHANNEL_OPTIONS), // none
    new grpc.Client(c.control, grpc.credentials.createInsecure()), // the local socket
  ];
  t.after(() => clients.forEach((x) => x.close()));
  const codes = new Map<number, number>();
  const payload = (i: number): Buffer => {
    const kind = i % 4;
    if (kind === 0) return randomBytes(i % 200);
    if (kind === 1) return Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // a length past the end
    if (kind === 2) return Buffer.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    return Buffer.concat([Buffer.from([0x0a, 0x40]), randomBytes(64)]); // a 64-byte field of noise
  };
  const details = new Set<string>();
  const call = (client: grpc.Client, path: string, body: Buffer): Promise<number> =>
    new Promise((resolve) => {
      const deadline = Date.now() + 5000;
      const streaming = /Assignments|WatchEvents|WatchEndpoints|ReportHealth/.test(path);
      if (streaming) {
        const stream = client.makeServerStreamRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          { deadline },
        );
        let done = false;
        const end = (code: number) => {
          if (!done) resolve(code);
          done = true;
          stream.cancel();
        };
        stream.on('data', () => end(grpc.status.OK));
        stream.on('error', (err: grpc.ServiceError) => {
          if (err.code === grpc.status.INTERNAL) details.add(err.details);
          end(err.code);
        });
        stream.on('status', (s: grpc.StatusObject) => end(s.code));
        return;
      }
      client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        { deadline },
        (err) => {
          if (err?.code === grpc.status.INTERNAL) details.add(err.details);
          resolve(err ? err.code : grpc.status.OK);
        },
      );
    });
  const TOTAL = 10_000;
  const inFlight = 64;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const client = clients[i % clients.length]!;
        let path = methods[Math.floor(i / clients.length) % methods.length]!;
        // Noise that happens to decode as a Register with a valid name is, from the node's own
        // certificate, the node renaming itself: allowed, so not sent (once in many runs it was).
        if (client === clients[0] && path.endsWith('/Register')) path = methods[0]!;
        const code = await call(client, path, payload(i));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  const total = [...codes.values()].reduce((a, b) => a + b, 0);
  assert.equal(total, TOTAL);
  // grpc-js answers bytes that are no protobuf message with INTERNAL "Error deserializing request"
  // before any handler runs; no handler ever failed on what it was given.
  assert.deepEqual([...details], codes.has(grpc.status.INTERNAL) ? ['Error deserializing request'] : []);
  assert.ok(!c.manager.lines.some((l) => l.msg === 'request failed'), 'no handler failed unexpectedly');
  assert.equal(
    codes.get(grpc.status.UNAVAILABLE) ?? 0,
    0,
    `the manager never went away: ${JSON.stringify([...codes])}`,
  );
  assert.ok((codes.get(grpc.status.UNAUTHENTICATED) ?? 0) > 0, 'calls without credentials are refused');
  assert.equal(c.manager.process.exitCode, null, 'the manager runs');
  const after = [await c.ok('service', 'ls', '--format', 'json'), await c.ok('node', 'ls', '--format', 'json')];
  // What the workers' heartbeats move on their own aside.
  const strip = (json: string) => JSON.stringify(JSON.parse(json), (k, v) => (k === 'lastSeenAt' ? undefined : v));
  assert.deepEqual(after.map(strip), before.map(strip), 'nothing the fuzz sent was stored');
});
