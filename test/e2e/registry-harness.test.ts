/**
 * The registry harness against the real engine: what a worker will see when it pulls. The
 * engine's messages for each failure are asserted here, as the worker's classification of pull
 * failures depends on them (Docker 20.10; dockerode wraps them as "(HTTP code N) … - MESSAGE ").
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { docker } from '../helpers/cluster.js';
import { CERTS_D, PullError, Registry, pullImage, pushImage, removeLocal } from '../helpers/registry.js';

const registries: Registry[] = [];
const pulled: string[] = [];

async function start(options: Parameters<typeof Registry.start>[0] = {}): Promise<Registry> {
  const registry = await Registry.start(options);
  registries.push(registry);
  return registry;
}

after(async () => {
  for (const ref of pulled) await removeLocal(ref);
  for (const registry of registries) await registry.stop();
});

/** The PullError of a pull that must fail. */
async function pullFails(ref: string, options: Parameters<typeof pullImage>[1] = {}): Promise<PullError> {
  const err = await pullImage(ref, options).then(
    () => assert.fail(`pull of ${ref} succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PullError, String(err));
  return err;
}

/** The status of a plain-HTTP GET /v2/. */
function plainV2(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${host}/v2/`, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('an image pushed to a plain registry is pulled back with its digest, every layer fetched once', async () => {
  const registry = await start();
  const pushed = await pushImage(registry, 'team/app', 'v1', { sizeMiB: 2, layers: 2 });
  assert.match(pushed.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(pushed.ref, `${registry.host}/team/app:v1`);
  await assert.rejects(docker.getImage(pushed.ref).inspect(), /no such image/i, 'the push removed it locally');
  assert.equal(registry.blobGets(), 0);

  pulled.push(pushed.ref);
  assert.equal(await pullImage(pushed.ref), pushed.digest);
  const image = await docker.getImage(pushed.ref).inspect();
  assert.ok(image.RepoDigests.includes(`${registry.host}/team/app@${pushed.digest}`), String(image.RepoDigests));
  assert.equal(image.Config.Labels?.['warren.test.marker'], pushed.marker);
  assert.equal(image.RootFS.Layers?.length, 3, 'busybox and two data layers');
  // Three layers and the image config, each once.
  assert.equal(await registry.waitForBlobGets(4, { repo: 'team/app' }), 4);
  assert.equal(registry.blobGets('other'), 0);

  // By digest, with the image present: the engine checks the manifest and fetches no blob.
  assert.equal(await pullImage(`${registry.host}/team/app@${pushed.digest}`), pushed.digest);
  assert.equal(registry.blobGets(), 4);

  await removeLocal(pushed.ref);
  await assert.rejects(docker.getImage(pushed.ref).inspect(), /no such image/i);
});

test('an unknown tag, repository or digest: "manifest unknown", HTTP 404 from the engine', async (t) => {
  const registry = await start();
  await pushImage(registry, 'app', 'v1');
  for (const ref of [
    registry.ref('app', 'nope'),
    registry.ref('nothere', 'v1'),
    `${registry.host}/app@sha256:${'0'.repeat(64)}`,
  ]) {
    const err = await pullFails(ref);
    assert.equal(err.statusCode, 404);
    assert.equal(err.message, `manifest for ${ref} not found: manifest unknown: manifest unknown`);
    t.diagnostic(err.message);
  }
});

test('a registry with a login refuses a pull without credentials or with a wrong password', async (t) => {
  const registry = await start({ auth: { username: 'warren', password: 's3cret' } });
  assert.equal(await plainV2(registry.host), 401);
  const pushed = await pushImage(registry, 'private/app', 'v1');

  const anonymous = await pullFails(pushed.ref);
  assert.equal(anonymous.statusCode, 500);
  assert.equal(
    anonymous.message,
    `Head "http://${registry.host}/v2/private/app/manifests/v1": no basic auth credentials`,
  );
  t.diagnostic(`no credentials: ${anonymous.message}`);

  const wrong = await pullFails(pushed.ref, { authconfig: { ...registry.authconfig!, password: 'wrong' } });
  assert.equal(wrong.statusCode, 500);
  assert.equal(wrong.message, 'unauthorized: authentication required');
  t.diagnostic(`wrong password: ${wrong.message}`);

  // Credentials and an unknown tag: not found, as without a login.
  const unknown = await pullFails(registry.ref('private/app', 'nope'), { authconfig: registry.authconfig });
  assert.equal(unknown.statusCode, 404);
  assert.match(unknown.message, /manifest unknown/);

  pulled.push(pushed.ref);
  assert.equal(await pullImage(pushed.ref, { authconfig: registry.authconfig }), pushed.digest);
  assert.equal(await registry.waitForBlobGets(2), 2, 'one layer and the config');
});

test('a TLS registry with a login: pulled over TLS; without credentials the engine reports its HTTP fallback', async (t) => {
  const registry = await start({ auth: { username: 'warren', password: 's3cret' }, tls: true });
  assert.ok(existsSync(join(CERTS_D, registry.host, 'ca.crt')), 'the CA is in certs.d');
  // It speaks TLS only: a pull that succeeds went over TLS.
  assert.equal(await plainV2(registry.host), 400);
  const pushed = await pushImage(registry, 'secure/app', 'v1');

  // The engine tries https, then (127.0.0.0/8 being insecure) http, and reports the last error.
  const anonymous = await pullFails(pushed.ref);
  assert.equal(anonymous.statusCode, 500);
  assert.equal(
    anonymous.message,
    'error parsing HTTP 400 response body: invalid character \'C\' looking for beginning of value: "Client sent an HTTP request to an HTTPS server.\\n"',
  );
  t.diagnostic(`TLS, no credentials: ${anonymous.message}`);

  const wrong = await pullFails(pushed.ref, { authconfig: { ...registry.authconfig!, password: 'wrong' } });
  assert.equal(wrong.message, 'unauthorized: authentication required');

  pulled.push(pushed.ref);
  assert.equal(await pullImage(pushed.ref, { authconfig: registry.authconfig }), pushed.digest);
  assert.equal(await registry.waitForBlobGets(2, { repo: 'secure/app' }), 2);

  await removeLocal(pushed.ref);
  await registry.stop();
  assert.ok(!existsSync(join(CERTS_D, registry.host)), 'stop() removed its certs.d entry');
});

test('a registry that is down: "connection refused", HTTP 500 from the engine; restarted, it serves again', async (t) => {
  const registry = await start();
  const pushed = await pushImage(registry, 'app', 'v1');
  await registry.kill();
  const err = await pullFails(pushed.ref);
  assert.equal(err.statusCode, 500);
  assert.equal(
    err.message,
    `Get "http://${registry.host}/v2/": dial tcp ${registry.host}: connect: connection refused`,
  );
  t.diagnostic(err.message);

  const host = registry.host;
  await registry.restart();
  assert.equal(registry.host, host);
  pulled.push(pushed.ref);
  assert.equal(await pullImage(pushed.ref), pushed.digest, 'the storage survived');

  await registry.stop();
  assert.match((await pullFails(pushed.ref.replace(':v1', ':v2'))).message, /connection refused/);
});
