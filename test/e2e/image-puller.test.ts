import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pino } from 'pino';
import { describeProgress, ImagePuller, PullError, type PullProgress } from '@warren/worker';
import { runToEnd, waitFor } from '../helpers/cluster.js';

// A real engine pulls from real registries (Debian's docker-registry) on 127.0.0.1, started here.
// A throttling proxy in front of one makes pulls slow enough to watch and to abort.

const REPO = 'puller-test';
const CREDENTIALS = { username: 'puller', password: 'right-password' };

/** The engine, with its pull requests (`POST /images/create`) counted. */
const docker = new Docker();
let pulls = 0;
const realPull = docker.pull.bind(docker) as unknown as (ref: string, opts: object) => Promise<Readable>;
(docker as { pull: unknown }).pull = (ref: string, opts: object) => {
  pulls++;
  return realPull(ref, opts);
};

const logger = pino({ level: 'silent' });
const imageIds = new Set<string>();
let open: LocalRegistry;
let locked: LocalRegistry;
let proxy: SlowProxy;
let work: string;

class LocalRegistry {
  host = '';
  stderr = '';
  #process: ChildProcess | undefined;

  constructor(readonly dir: string) {}

  static async start(htpasswd?: string): Promise<LocalRegistry> {
    const registry = new LocalRegistry(await mkdtemp(join(tmpdir(), 'puller-registry-')));
    const config = ['version: 0.1', 'storage:', '  filesystem:', `    rootdirectory: ${registry.dir}/storage`];
    config.push('http:', '  addr: 127.0.0.1:0', `  secret: ${randomBytes(8).toString('hex')}`);
    if (htpasswd !== undefined) {
      await writeFile(join(registry.dir, 'htpasswd'), htpasswd);
      config.push('auth:', '  htpasswd:', '    realm: test', `    path: ${registry.dir}/htpasswd`);
    }
    await writeFile(join(registry.dir, 'config.yml'), config.join('\n') + '\n');
    const child = spawn('docker-registry', ['serve', join(registry.dir, 'config.yml')], { stdio: 'pipe' });
    registry.#process = child;
    child.stdout.resume();
    child.stderr.on('data', (c: Buffer) => (registry.stderr += c.toString()));
    try {
      const listening = () => /listening on (127\.0\.0\.1:\d+)/.exec(registry.stderr)?.[1];
      registry.host = await waitFor('the registry to listen', listening, 10_000, 20);
    } catch (err) {
      await registry.stop();
      throw new Error(`docker-registry did not start: ${registry.stderr}`, { cause: err });
    }
    return registry;
  }

  ref(tag: string, host = this.host): string {
    return `${host}/${REPO}:${tag}`;
  }

  /** Removes a blob from the storage (an image whose layer the registry lost). */
  async loseBlob(digest: string): Promise<void> {
    const hex = digest.slice('sha256:'.length);
    await rm(join(this.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'));
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Forwards to a registry, serving blobs at `bytesPerSecond`; notes the blob downloads a client gave up. */
class SlowProxy {
  host = '';
  blobGets = 0;
  abandoned = 0;
  readonly #server: Server;

  constructor(target: string, bytesPerSecond: number) {
    const [hostname, port] = target.split(':');
    this.#server = createServer((req, res) => {
      const blob = req.method === 'GET' && req.url!.includes('/blobs/');
      if (blob) this.blobGets++;
      const upstream = request({ hostname, port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        if (!blob) return void up.pipe(res);
        up.on('data', (chunk: Buffer) => {
          up.pause();
          res.write(chunk);
          setTimeout(() => up.resume(), (chunk.length / bytesPerSecond) * 1000);
        });
        up.on('end', () => res.end());
      });
      res.on('close', () => {
        if (!res.writableFinished) this.abandoned++;
        upstream.destroy();
      });
      req.pipe(upstream);
    });
  }

  async start(): Promise<void> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.host = `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
  }
}

/** Builds an image FROM scratch with busybox and `extraBytes` of noise, pushes it, forgets it locally. */
async function pushImage(
  ref: string,
  extraBytes: number,
  authconfig?: object,
): Promise<{ id: string; digest: string }> {
  const root = await mkdtemp(join(work, 'root-'));
  await mkdir(join(root, 'bin'));
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await symlink('busybox', join(root, 'bin/sh'));
  await writeFile(join(root, 'noise'), randomBytes(extraBytes));
  const imported = await runToEnd('sh', ['-c', `tar -C "${root}" -c . | docker import - "${ref}"`]);
  assert.equal(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();
  imageIds.add(id);
  const stream = (await docker.getImage(ref).push({ authconfig: authconfig ?? {} })) as Readable;
  const events = await new Promise<{ error?: string; aux?: { Digest?: string } }[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (err, out) => (err ? reject(err) : resolve(out))),
  );
  const failed = events.find((e) => e.error);
  assert.equal(failed, undefined, `push of ${ref}: ${failed?.error}`);
  const digest = events.find((e) => e.aux?.Digest)?.aux?.Digest ?? '';
  await removeLocal(id);
  return { id, digest };
}

/** Removes an image and all its tags from the engine, if there. */
async function removeLocal(id: string): Promise<void> {
  await docker
    .getImage(id)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

async function present(ref: string): Promise<boolean> {
  return docker
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/** What a failed `ensure` was rejected with. */
async function failure(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  const err = await promise.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PullError, String(err));
  return { kind: err.kind, message: err.message };
}

let image: { id: string; digest: string };

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'puller-test-'));
  const hashed = await runToEnd('htpasswd', ['-Bbn', CREDENTIALS.username, CREDENTIALS.password]);
  [open, locked] = await Promise.all([LocalRegistry.start(), LocalRegistry.start(hashed.stdout)]);
  proxy = new SlowProxy(open.host, 1_000_000);
  await proxy.start();
  image = await pushImage(open.ref('1'), 1_500_000);
});

after(async () => {
  for (const id of imageIds) await removeLocal(id);
  await proxy?.stop();
  await Promise.all([open?.stop(), locked?.stop()]);
  await rm(work, { recursive: true, force: true });
});

test('a pull reports its progress and resolves with the image id and repo digest', async () => {
  const puller = new ImagePuller(docker, logger);
  const ref = open.ref('1', proxy.host);
  const seen: { atMs: number; progress: PullProgress }[] = [];
  const before = pulls;
  const startedMs = performance.now();
  const pulled = await puller.ensure(ref, 'missing', {
    onProgress: (progress) => seen.push({ atMs: performance.now() - startedMs, progress }),
  });
  assert.equal(pulls - before, 1);
  assert.deepEqual(pulled, { id: image.id, digest: `${proxy.host}/${REPO}@${image.digest}` });
  assert.ok(seen.length >= 3, `progress reports: ${seen.length}`);
  const messages = seen.map((s) => describeProgress(s.progress));
  assert.ok(
    messages.some((m) => /^pulling \d{1,2}% of 2\.\d MB$/.test(m)),
    messages.join(', '),
  );
  assert.equal(messages.at(-1), 'extracting');
  assert.deepEqual(seen.at(-1)?.progress.currentBytes, seen.at(-1)?.progress.totalBytes);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]!.progress.currentBytes >= seen[i - 1]!.progress.currentBytes, 'bytes only grow');
    // At most every 250 ms, but for the report at the end (timers may fire a little early).
    if (i < seen.length - 1) assert.ok(seen[i]!.atMs - seen[i - 1]!.atMs >= 240, `gap ${i}: ${messages.join(', ')}`);
  }
  assert.equal(puller.pulling, 0);
  await removeLocal(image.id);
});

test('five callers at once share one pull, each with its own progress', async () => {
  const puller = new ImagePuller(docker, logger);
  const ref = open.ref('1', proxy.host);
  const [beforePulls, beforeBlobs] = [pulls, proxy.blobGets];
  const reports = [0, 0, 0, 0, 0];
  const results = await Promise.all(
    reports.map((_, i) => puller.ensure(ref, 'missing', { onProgress: () => reports[i]!++ })),
  );
  assert.equal(pulls - beforePulls, 1, 'POST /images/create');
  assert.equal(proxy.blobGets - beforeBlobs, 2, 'blob GETs: the config and the one layer');
  for (const result of results) assert.deepEqual(result, results[0]);
  assert.equal(results[0]!.id, image.id);
  assert.ok(
    reports.every((n) => n >= 2),
    `progress reports per caller: ${reports.join(', ')}`,
  );
  await removeLocal(image.id);
});

test('each failure names its cause: not found, access denied, unreachable, a broken image', async () => {
  const puller = new ImagePuller(docker, logger);
  const nope = open.ref('nope');
  assert.deepEqual(await failure(puller.ensure(nope, 'missing')), {
    kind: 'not-found',
    message: `image not found: ${nope}: manifest for ${nope} not found: manifest unknown: manifest unknown`,
  });

  const image2 = await pushImage(locked.ref('1'), 1000, { ...CREDENTIALS, serveraddress: locked.host });
  const ref = locked.ref('1');
  const anonymous = await failure(puller.ensure(ref, 'missing'));
  assert.equal(anonymous.kind, 'access-denied');
  assert.match(anonymous.message, new RegExp(`^pull access denied: ${ref}: Head ".*": no basic auth credentials$`));
  const wrong = { username: CREDENTIALS.username, password: 'wrong', serverAddress: locked.host };
  assert.deepEqual(await failure(puller.ensure(ref, 'missing', { auth: wrong })), {
    kind: 'access-denied',
    message: `pull access denied: ${ref}: unauthorized: authentication required`,
  });
  const right = { ...CREDENTIALS, serverAddress: locked.host };
  assert.equal((await puller.ensure(ref, 'missing', { auth: right })).id, image2.id);

  const gone = await LocalRegistry.start();
  await gone.stop();
  const unreachable = await failure(puller.ensure(gone.ref('1'), 'missing'));
  assert.equal(unreachable.kind, 'unreachable');
  const v2 = `http://${gone.host}/v2/`;
  assert.equal(
    unreachable.message,
    `registry unreachable: ${gone.ref('1')}: Get "${v2}": dial tcp ${gone.host}: connect: connection refused`,
  );

  // The engine answers 200 and finds out later: the failure comes as a line of the stream.
  const broken = await pushImage(open.ref('broken'), 1000);
  const manifest = JSON.parse(
    await readFile(
      join(
        open.dir,
        'storage/docker/registry/v2/blobs/sha256',
        broken.digest.slice(7, 9),
        broken.digest.slice(7),
        'data',
      ),
      'utf8',
    ),
  ) as { layers: { digest: string }[] };
  await open.loseBlob(manifest.layers[0]!.digest);
  assert.deepEqual(await failure(puller.ensure(open.ref('broken'), 'missing')), {
    kind: 'other',
    message: `image pull failed: ${open.ref('broken')}: unknown blob`,
  });
  assert.equal(puller.pulling, 0);
  await removeLocal(image2.id);
});

test('a caller that aborts stops waiting; the pull goes on for the others, and ends when none waits', async () => {
  const puller = new ImagePuller(docker, logger);
  const ref = open.ref('1', proxy.host);
  const beforePulls = pulls;

  const early = new AbortController();
  early.abort();
  await assert.rejects(puller.ensure(ref, 'always', { signal: early.signal }), { name: 'AbortError' });
  assert.equal(pulls, beforePulls, 'no pull for a caller that aborted before');

  const quitter = new AbortController();
  let quitterReports = 0;
  const quitting = puller.ensure(ref, 'missing', { signal: quitter.signal, onProgress: () => quitterReports++ });
  const staying = puller.ensure(ref, 'missing');
  await waitFor('progress', () => quitterReports > 0, 10_000, 10);
  const abortedAt = performance.now();
  quitter.abort();
  await assert.rejects(quitting, { name: 'AbortError' });
  assert.ok(performance.now() - abortedAt < 500, 'the aborting caller stops waiting at once');
  const reportsWhenAborted = quitterReports;
  assert.equal((await staying).id, image.id);
  assert.equal(quitterReports, reportsWhenAborted, 'no progress after the abort');
  assert.equal(pulls - beforePulls, 1);
  assert.equal(proxy.abandoned, 0);
  await removeLocal(image.id);

  // Every caller gone: the engine's pull is aborted (it hangs up on the registry) and nothing lands.
  const [a, b] = [new AbortController(), new AbortController()];
  let reports = 0;
  const first = puller.ensure(ref, 'missing', { signal: a.signal, onProgress: () => reports++ });
  const second = puller.ensure(ref, 'always', { signal: b.signal });
  await waitFor('progress', () => reports > 0, 10_000, 10);
  a.abort();
  b.abort();
  await assert.rejects(first, { name: 'AbortError' });
  await assert.rejects(second, { name: 'AbortError' });
  await waitFor('the puller to let go', () => puller.pulling === 0, 5_000, 10);
  await waitFor('the engine to hang up on the registry', () => proxy.abandoned > 0, 5_000, 10);
  assert.equal(await present(ref), false);

  // A caller after that gets a pull of its own.
  assert.equal((await puller.ensure(ref, 'missing')).id, image.id);
  assert.equal(pulls - beforePulls, 3);
  await removeLocal(image.id);
});

test('pull policies: never wants it present, missing pulls only when absent, always pulls each time', async () => {
  const puller = new ImagePuller(docker, logger);
  const ref = open.ref('1');
  const pinned = `${open.host}/${REPO}@${image.digest}`;
  const beforePulls = pulls;
  assert.deepEqual(await failure(puller.ensure(ref, 'never')), {
    kind: 'not-present',
    message: `image not present: ${ref}: pull policy is never`,
  });
  assert.equal(pulls, beforePulls);

  const expected = { id: image.id, digest: pinned };
  assert.deepEqual(await puller.ensure(ref, 'missing'), expected);
  assert.equal(pulls - beforePulls, 1);
  assert.deepEqual(await puller.ensure(ref, 'never'), expected);
  assert.deepEqual(await puller.ensure(ref, 'missing'), expected);
  assert.deepEqual(await puller.ensure(pinned, 'missing'), expected);
  assert.deepEqual(await puller.ensure(`${open.host}/${REPO}:1@${image.digest}`, 'missing'), expected);
  assert.equal(pulls - beforePulls, 1, 'nothing pulled while present');

  const again = await Promise.all([1, 2, 3].map(() => puller.ensure(ref, 'always')));
  assert.deepEqual(again, [expected, expected, expected]);
  assert.equal(pulls - beforePulls, 2, 'always pulls, once for callers at once');
  await removeLocal(image.id);

  // A pinned reference pulls by digest.
  assert.deepEqual(await puller.ensure(`${open.host}/${REPO}:1@${image.digest}`, 'missing'), expected);
  assert.equal(pulls - beforePulls, 3);
  await removeLocal(image.id);
});

test('an image id is never pulled', async () => {
  const puller = new ImagePuller(docker, logger);
  const beforePulls = pulls;
  const missing = `sha256:${'0'.repeat(64)}`;
  assert.deepEqual(await failure(puller.ensure(missing, 'always')), {
    kind: 'not-present',
    message: `image not present: ${missing}: an image id cannot be pulled`,
  });
  const local = await docker.getImage('warren-test:latest').inspect();
  assert.deepEqual(await puller.ensure(local.Id, 'always'), { id: local.Id, digest: '' });
  assert.equal(pulls, beforePulls);
});
