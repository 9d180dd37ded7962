/**
 * Images come from registries (DESIGN.md section 5), against a real registry on loopback and
 * the real engine: workers pull what their node lacks (one pull per image and node, progress in
 * `service ps`), services are pinned to a digest, and a bad image explains itself and backs off.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlClient, type wire } from '@warren/api';
import { Cluster, docker, runWarren, waitFor, type TaskJson } from '../helpers/cluster.js';
import { Registry, pushImage, removeLocal } from '../helpers/registry.js';

const registries: Registry[] = [];
const pushed: string[] = [];
after(async () => {
  for (const ref of pushed) await removeLocal(ref).catch(() => undefined);
  for (const registry of registries) await registry.stop();
});

async function registry(options: Parameters<typeof Registry.start>[0] = {}): Promise<Registry> {
  const started = await Registry.start(options);
  registries.push(started);
  return started;
}

async function push(r: Registry, repo: string, tag: string, options: Parameters<typeof pushImage>[3] = {}) {
  const image = await pushImage(r, repo, tag, options);
  // Workers pull it by tag or pinned: both go when the file is done.
  pushed.push(image.ref, `${r.host}/${repo}@${image.digest}`);
  return image;
}

interface ServiceJson {
  spec: { image: string };
  imageNote?: string;
  tasks: TaskJson[];
}

/** Every message a task of `service` showed while `preparing`, sampled over gRPC until `done`. */
function watchPreparing(c: Cluster, service: string): { messages: Set<string>; stop: () => Promise<void> } {
  const client = c.controlClient();
  const messages = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        client.InspectService({ name: service }, (err: unknown, res?: wire.ServiceDetailOut) => {
          for (const t of res?.tasks ?? []) if (t.state === 'preparing') messages.add(t.message);
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    messages,
    stop: async () => {
      running = false;
      await loop;
      client.close();
    },
  };
}

test('a node that lacks the image pulls it once for all its tasks, shows progress, and runs the pinned digest', async (t) => {
  // 20 MiB/s per connection: on loopback a fast machine pulled 60 MiB between two progress reports.
  const r = await registry({ throttleMiBps: 20 });
  const image = await push(r, 'team/web', 'v1', { sizeMiB: 60, layers: 2 });
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');

  const watch = watchPreparing(c, 'web');
  t.after(() => watch.stop());
  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    image.ref,
    '--replicas',
    '5',
    '--stop-timeout',
    '1s',
    '--',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/www',
  );
  const tasks = await c.waitRunning('web', 5, 120_000);
  await watch.stop();

  const pinned = `${image.ref}@${image.digest}`;
  const detail = await c.inspect<ServiceJson>('web');
  assert.equal(detail.spec.image, pinned, 'the service is pinned to the digest of v1');
  assert.match(
    await c.ok('service', 'inspect', 'web'),
    new RegExp(`Image:\\s+${pinned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  );
  assert.ok(
    [...watch.messages].some((m) => /^pulling \d+% of [\d.]+ MB$/.test(m)),
    `progress was shown while preparing: ${[...watch.messages].join(' | ')}`,
  );
  // One pull for the five tasks: the worker pulled once, and the engine fetched each blob (every
  // layer and the image config) once.
  const worker = c.workers.get('w1')!;
  const pulls = worker.lines.filter((l) => l.msg === 'pulling image');
  assert.equal(pulls.length, 1, `pulls: ${JSON.stringify(pulls)}`);
  const layers = (await docker.getImage(pinned).inspect()).RootFS.Layers?.length ?? 0;
  await r.waitForBlobGets(layers + 1, { repo: 'team/web' });
  const perBlob = new Map<string, number>();
  for (const q of r.requests.filter((x) => x.method === 'GET' && /\/v2\/team\/web\/blobs\//.test(x.path))) {
    perBlob.set(q.path, (perBlob.get(q.path) ?? 0) + 1);
  }
  assert.equal(perBlob.size, layers + 1, 'every layer and the config were fetched');
  // The config is read once more when the manager pins the digest (the engine reads the platform).
  const twice = [...perBlob.values()].filter((n) => n > 1);
  assert.ok(twice.length <= 1 && twice.every((n) => n === 2), `blob GETs: ${JSON.stringify([...perBlob])}`);
  for (const task of tasks) {
    const info = await docker.getContainer(task.containerId).inspect();
    assert.equal(info.Config.Image, pinned, 'each task runs name@sha256:…');
  }
});

test('a tag that moves later does not change what new tasks of the service run', async (t) => {
  const r = await registry();
  const v1 = await push(r, 'team/api', 'v1');
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'api', '--image', v1.ref, '--stop-timeout', '1s', '--', 'sleep', '1000');
  const [first] = await c.waitRunning('api', 1, 60_000);
  const moved = await push(r, 'team/api', 'v1');
  assert.notEqual(moved.digest, v1.digest, 'the tag now names other bits');

  await c.ok('service', 'scale', 'api=3');
  const tasks = await c.waitRunning('api', 3, 60_000);
  const images = new Set<string>();
  for (const task of tasks) images.add((await docker.getContainer(task.containerId).inspect()).Image);
  assert.deepEqual([...images], [(await docker.getContainer(first!.containerId).inspect()).Image]);
  assert.equal((await c.inspect<ServiceJson>('api')).spec.image, `${v1.ref}@${v1.digest}`);
});

test("an unknown tag is refused at create with exit code 2 and the registry's words", async (t) => {
  const r = await registry();
  await push(r, 'team/known', 'v1');
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const res = await c.cli('service', 'create', 'nope', '--image', r.ref('team/known', 'v2'));
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /^error: --image ".*team\/known:v2": image not found: /m);
  assert.equal(JSON.parse(await c.ok('service', 'ls', '--format', 'json')).length, 0, 'nothing was created');
});

for (const tls of [false, true]) {
  const over = tls ? 'over TLS (a self-signed CA in certs.d)' : 'over plain HTTP';
  test(`a registry that wants a password, ${over}: without it tasks fail with "pull access denied" and back off; with it they run; it is never shown`, async (t) => {
    const password = `s3cret-${process.pid}-${tls}`;
    const r = await registry({ auth: { username: 'alice', password }, tls });
    const image = await push(r, 'private/app', 'v1');
    const c = await Cluster.create();
    t.after(() => c.destroy());
    const worker = await c.startWorker('w1');

    // No credentials: the manager cannot pin it, the tasks are rejected with a reason to act on.
    await c.ok('service', 'create', 'anon', '--image', image.ref, '--restart-delay', '1s', '--', 'sleep', '1000');
    const refused = await waitFor(
      'a task rejected for access',
      async () => (await c.tasks('anon')).find((x) => x.state === 'rejected'),
      60_000,
    );
    assert.match(refused.error, /^pull access denied: /);
    if (!tls) {
      // Count the attempts over 20 s: a backoff (0, 1, 2, 4, 8 s …), not a loop.
      const started = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      const attempts = (await c.tasks('anon')).filter((x) => x.state === 'rejected').length;
      assert.ok(attempts <= 8, `backoff, not a loop: ${attempts} attempts in ${Date.now() - started} ms`);
    }
    assert.ok(!(await c.tasks('anon')).some((x) => /probe failed/.test(x.error)), 'never a health failure');

    // With credentials from the user's Docker config.
    const config = await mkdtemp(join(tmpdir(), 'warren-docker-config-'));
    t.after(() => rm(config, { recursive: true, force: true }));
    const auth = Buffer.from(`alice:${password}`).toString('base64');
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [r.host]: { auth } } }));
    const created = await runWarren(
      [
        '--manager',
        c.control,
        'service',
        'create',
        'priv',
        '--image',
        image.ref,
        '--with-registry-auth',
        '--',
        'sleep',
        '1000',
      ],
      { DOCKER_CONFIG: config },
    );
    assert.equal(created.code, 0, created.stderr);
    await c.waitRunning('priv', 1, 60_000);
    const detail = await c.ok('service', 'inspect', 'priv', '--format', 'json');
    assert.equal(JSON.parse(detail).spec.image, `${image.ref}@${image.digest}`, 'pinned with the credentials');
    assert.match(await c.ok('service', 'inspect', 'priv'), /registry credentials kept/);

    const seen = [
      detail,
      await c.ok('service', 'inspect', 'priv'),
      await c.ok('service', 'ps', 'priv', '--format', 'json'),
      await c.ok('events', '--since', '10m', '--until', '0s', '--format', 'json'),
      JSON.stringify(c.manager.lines),
      c.manager.stderr,
      JSON.stringify(worker.lines),
      worker.stderr,
    ].join('\n');
    assert.ok(!seen.includes(password), 'the password appears nowhere');
    assert.ok(!seen.includes(auth), 'nor its encoded form');
  });
}

test('a registry that does not answer: the service runs the tag as found and says so; its tasks fail with "registry unreachable" and back off', async (t) => {
  const r = await registry();
  const image = await push(r, 'team/gone', 'v1');
  await r.kill();
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'gone', '--image', image.ref, '--restart-delay', '1s', '--', 'sleep', '1000');
  const detail = await c.inspect<ServiceJson>('gone');
  assert.equal(detail.spec.image, image.ref, 'not pinned');
  assert.match(await c.ok('service', 'inspect', 'gone'), /not pinned: registry unreachable: /);
  const failed = await waitFor(
    'a task rejected',
    async () => (await c.tasks('gone')).find((x) => x.state === 'rejected'),
    60_000,
  );
  assert.match(failed.error, /^registry unreachable: /);

  // The registry comes back: the next attempt pulls and runs.
  await r.restart();
  await c.waitRunning('gone', 1, 90_000);
});

test('a worker killed while it pulls starts the pull over when it comes back, and the task runs', async (t) => {
  // Throttled, so the kill lands in the middle of the pull on a fast machine too.
  const r = await registry({ throttleMiBps: 20 });
  const image = await push(r, 'team/big', 'v1', { sizeMiB: 200, layers: 4 });
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const watch = watchPreparing(c, 'big');
  t.after(() => watch.stop());
  await c.ok('service', 'create', 'big', '--image', image.ref, '--stop-timeout', '1s', '--', 'sleep', '1000');
  await waitFor('the pull under way', () => [...watch.messages].some((m) => m.startsWith('pulling')), 60_000, 20);
  await c.workers.get('w1')!.kill('SIGKILL');
  const [task] = await c.live('big');
  assert.equal(task!.state, 'preparing', 'killed in the middle of preparing');

  await c.startWorker('w1');
  const [running] = await c.waitRunning('big', 1, 120_000);
  await watch.stop();
  assert.equal(running!.id, task!.id, 'the same task carried on: nothing failed');
  assert.equal((await c.tasks('big')).length, 1);
});
