/** The cluster CA, certificates, join tokens and CA pinning (issue 13's foundation), over real TLS on loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClusterCa,
  PinError,
  fetchPinnedCa,
  formatJoinToken,
  identityOfPeer,
  identityOfPem,
  newJoinSecret,
  newKeyAndCsr,
  parseJoinToken,
  renewalAt,
  sameSecret,
  writeSecretFile,
  type Identity,
  type Role,
} from '@warren/api';

const DAY = 86_400_000;

async function issued(ca: ClusterCa, id: string, role: Role, over: { validityMs?: number; now?: number } = {}) {
  const { keyPem, csrPem } = await newKeyAndCsr();
  return { keyPem, certPem: await ca.sign({ csrPem, id, role, ...over }) };
}

test('a CA: P-256 root, its hash pinned by tokens, loaded back only with its own key', async () => {
  const ca = await ClusterCa.create();
  assert.match(ca.hash, /^[0-9a-f]{64}$/);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  const again = await ClusterCa.load(ca.certPem, ca.keyPem);
  assert.equal(again.hash, ca.hash);
  const other = await ClusterCa.create();
  assert.notEqual(other.hash, ca.hash);
  await assert.rejects(() => ClusterCa.load(ca.certPem, other.keyPem), /does not belong to the CA certificate/);
});

test('node certificates: CN the id, OU the role, 90 days unless asked; bad requests and ids refused', async () => {
  const ca = await ClusterCa.create();
  const before = Date.now();
  const { certPem } = await issued(ca, 'n0de-1', 'worker');
  const id = identityOfPem(certPem)!;
  assert.equal(id.id, 'n0de-1');
  assert.equal(id.role, 'worker');
  assert.ok(
    Math.abs(id.notAfter - (before + 90 * DAY)) < 5 * 60_000,
    `90 days: ${new Date(id.notAfter).toISOString()}`,
  );
  const short = identityOfPem((await issued(ca, 'c1', 'client', { validityMs: 3_600_000 })).certPem)!;
  assert.equal(short.role, 'client');
  assert.ok(short.notAfter - Date.now() <= 3_600_000 && short.notAfter - Date.now() > 3_500_000);

  const { csrPem } = await newKeyAndCsr();
  await assert.rejects(() => ca.sign({ csrPem: 'garbage', id: 'x', role: 'worker' }), /not a PEM PKCS#10 request/);
  const tampered = csrPem.replace(
    /(\n)([A-Za-z0-9+/])([A-Za-z0-9+/]{10})/,
    (_, nl, c, rest) => `${nl}${c === 'A' ? 'B' : 'A'}${rest}`,
  );
  await assert.rejects(() => ca.sign({ csrPem: tampered, id: 'x', role: 'worker' }));
  await assert.rejects(() => ca.sign({ csrPem, id: 'a, OU=manager', role: 'worker' }), /is not valid/);
});

/** A TLS server as the manager will be: its chain (leaf + CA), client certificates verified against the CA. */
async function server(ca: ClusterCa, seen: Array<Identity | undefined>): Promise<{ address: string; close(): void }> {
  const { keyPem, certPem } = await issued(ca, 'manager-1', 'manager');
  const s = tls.createServer(
    { key: keyPem, cert: certPem + ca.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      seen.push(identityOfPeer(socket.getPeerCertificate()));
      socket.end('hello');
    },
  );
  s.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  return { address: `127.0.0.1:${port}`, close: () => s.close() };
}

function connect(address: string, o: { caPem: string; keyPem: string; certPem: string }): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: Number(port),
      ca: o.caPem,
      key: o.keyPem,
      cert: o.certPem,
      // Peers check the role, not a host name (DESIGN section 8).
      checkServerIdentity: (_host, cert) =>
        identityOfPeer(cert)?.role === 'manager' ? undefined : new Error('the peer is not a manager'),
    });
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

test('mutual TLS with the CA: a node certificate is admitted and named; foreign and expired ones are refused', async () => {
  const ca = await ClusterCa.create();
  const seen: Array<Identity | undefined> = [];
  const s = await server(ca, seen);
  try {
    const worker = await issued(ca, 'node-7', 'worker');
    assert.equal(await connect(s.address, { caPem: ca.certPem, ...worker }), 'hello');
    assert.equal(seen[0]?.id, 'node-7');
    assert.equal(seen[0]?.role, 'worker');

    const foreign = await issued(await ClusterCa.create(), 'node-8', 'worker');
    // TLS 1.3: the client may finish its side first; the server's refusal then ends the connection unanswered.
    const admitted = (o: Parameters<typeof connect>[1]) =>
      connect(s.address, o).then(
        (d) => d === 'hello',
        () => false,
      );
    assert.equal(await admitted({ caPem: ca.certPem, ...foreign }), false, 'a certificate from another CA');
    const expired = await issued(ca, 'node-9', 'worker', { now: Date.now() - 2 * DAY, validityMs: DAY });
    assert.equal(await admitted({ caPem: ca.certPem, ...expired }), false, 'an expired certificate');
    assert.equal(seen.length, 1, 'neither reached the server');
    // A client that trusts another CA refuses this manager.
    const other = await ClusterCa.create();
    await assert.rejects(
      () => connect(s.address, { caPem: other.certPem, ...worker }),
      /self-signed|unable to verify/,
    );
    assert.equal(seen.length, 1);
  } finally {
    s.close();
  }
});

test('pinning: the CA learnt from a handshake when its hash matches the token; another cluster refused', async () => {
  const ca = await ClusterCa.create();
  const s = await server(ca, []);
  try {
    assert.equal((await fetchPinnedCa(s.address, ca.hash)).trim(), ca.certPem.trim());
    const other = await ClusterCa.create();
    await assert.rejects(
      () => fetchPinnedCa(s.address, other.hash),
      (err: unknown) => {
        assert.ok(err instanceof PinError);
        assert.match(err.message, /belongs to another cluster/);
        return true;
      },
    );
    await assert.rejects(() => fetchPinnedCa('127.0.0.1:1', ca.hash), /cannot reach the manager at 127\.0\.0\.1:1/);
  } finally {
    s.close();
  }
});

test('join tokens: WRN-1-<CA hash>-<secret>; anything else refused without echoing it', () => {
  const secret = newJoinSecret();
  const caHash = 'ab'.repeat(32);
  const token = formatJoinToken({ caHash, secret });
  assert.equal(token, `WRN-1-${caHash}-${secret}`);
  assert.deepEqual(parseJoinToken(token), { caHash, secret });
  assert.ok(sameSecret(secret, secret));
  assert.ok(!sameSecret(secret, newJoinSecret()));
  assert.ok(!sameSecret(secret, 'short'));
  for (const bad of [
    '',
    'wrn-abc',
    `WRN-1-${caHash}`,
    `WRN-2-${caHash}-${secret}`,
    `WRN-1-${'zz'.repeat(32)}-${secret}`,
  ]) {
    assert.throws(
      () => parseJoinToken(bad),
      (err: Error) => /--token .*is not a join token/.test(err.message) && (bad === '' || !err.message.includes(bad)),
    );
  }
});

test('renewal: at a random point between 50 % and 80 % of the life', () => {
  const life = { notBefore: 1_000_000, notAfter: 1_000_000 + 100 * DAY };
  assert.equal(renewalAt(life, 0), 1_000_000 + 50 * DAY);
  assert.ok(renewalAt(life, 0.999999) < 1_000_000 + 80 * DAY);
  assert.ok(renewalAt(life, 0.999999) > 1_000_000 + 79.9 * DAY);
  const spread = new Set(Array.from({ length: 20 }, () => Math.floor(renewalAt(life) / DAY)));
  assert.ok(spread.size > 5, 'spread, not all at once');
});

test('key files are written whole, mode 0600', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'warren-pki-'));
  try {
    const path = join(dir, 'ca', 'ca.key');
    await writeSecretFile(path, 'secret one');
    await writeSecretFile(path, 'secret two');
    assert.equal(await readFile(path, 'utf8'), 'secret two');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
