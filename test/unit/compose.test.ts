import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStack, stackPlan } from '@warren/cli';
import { testSpec } from '../helpers/spec.js';

async function withFiles(files: Record<string, string>, f: (path: (name: string) => string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'warren-compose-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await f((name) => join(dir, name));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The error `readStack` gives, or '' when it reads. */
async function errorOf(files: Record<string, string>): Promise<string> {
  let message = '';
  await withFiles(files, async (p) => {
    await readStack(Object.keys(files).map(p), 's').catch((err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      message = err.message;
    });
  });
  return message;
}

test("healthcheck's forms: CMD, CMD-SHELL, a string, NONE and disable; durations; x-warren adds phases", async () => {
  const yaml = `services:
  a: { image: "x:1", healthcheck: { test: [CMD, "true"], interval: 1m30s, timeout: 2s, retries: 4, start_period: 5s } }
  b: { image: "x:1", healthcheck: { test: "curl -f localhost" } }
  c: { image: "x:1", healthcheck: { test: [CMD-SHELL, "exit 0"] } }
  d: { image: "x:1", healthcheck: { test: [NONE] } }
  e: { image: "x:1", healthcheck: { disable: true } }
  f: { image: "x:1", healthcheck: { test: [CMD, "true"] }, x-warren: { readiness-http: "path=/ready,port=80" } }
`;
  await withFiles({ 'c.yml': yaml }, async (p) => {
    const { specs } = await readStack([p('c.yml')], 's');
    const [a, b, c, d, e, f] = specs;
    assert.deepEqual(a!.health.check, {
      handler: { kind: 'exec', command: ['true'] },
      intervalMs: 90_000,
      timeoutMs: 2000,
      retries: 4,
      successThreshold: 1,
      startPeriodMs: 5000,
    });
    assert.deepEqual(b!.health.check?.handler, { kind: 'exec', command: ['/bin/sh', '-c', 'curl -f localhost'] });
    assert.deepEqual(c!.health.check?.handler, { kind: 'exec', command: ['/bin/sh', '-c', 'exit 0'] });
    for (const off of [d!, e!]) {
      assert.deepEqual(off.health, {});
      assert.equal(off.noHealthcheck, true, "NONE and disable turn the image's check off too");
    }
    assert.equal(f!.health.readiness?.handler.kind, 'http');
    assert.equal(f!.health.check?.handler.kind, 'exec');
    assert.equal(a!.name, 's_a');
    assert.equal(a!.stack, 's');
  });
});

test('files merge as Docker merges them; environment by variable; ${VAR} from the environment; ports both ways', async () => {
  const base = `services:
  web:
    image: x:\${TAG:-1}
    environment: [A=1, B=2]
    ports: ["8080:80", { target: 443, published: 8443, protocol: tcp }]
    deploy:
      replicas: 2
      update_config: { parallelism: 2, order: start-first }
      resources: { limits: { cpus: "0.5", memory: 64M, pids: 100 }, reservations: { memory: 32m } }
    x-warren: { health-throttled: failure }
`;
  const over = `services:
  web:
    environment: { B: "3", C: "$$literal" }
    deploy: { replicas: 3 }
`;
  await withFiles({ 'a.yml': base, 'b.yml': over }, async (p) => {
    const { specs } = await readStack([p('a.yml'), p('b.yml')], 's', { TAG: '7' });
    const web = specs[0]!;
    assert.equal(web.image, 'x:7');
    assert.deepEqual(web.env, ['A=1', 'B=3', 'C=$literal']);
    assert.equal(web.replicas, 3);
    assert.equal(web.update.parallelism, 2, 'a mapping merges key by key');
    assert.equal(web.update.order, 'start-first');
    assert.deepEqual(web.resources, {
      limits: { nanoCpus: 5e8, memoryBytes: 64 * 2 ** 20, pids: 100 },
      reservations: { nanoCpus: 0, memoryBytes: 32 * 2 ** 20 },
    });
    assert.equal(web.health.throttled, 'failure');
    assert.deepEqual(
      web.ports.map((x) => `${x.published}:${x.target}`),
      ['8080:80', '8443:443'],
    );
  });
});

test('a bad file names its file, line and key', async () => {
  const bad = (yaml: string) => errorOf({ 'compose.yml': `services:\n  web:\n    image: x:1\n${yaml}` });
  assert.equal(
    await bad('    deploy:\n      replicas: -1\n'),
    'compose.yml:5 services.web.deploy.replicas: must be a whole number ≥ 0',
  );
  assert.equal(
    await bad('    x-warren:\n      health-foo: 1\n'),
    'compose.yml:5 services.web.x-warren.health-foo: not a Warren flag x-warren takes (see docs/stacks.md)',
  );
  assert.match(
    await bad('    deploy:\n      resources:\n        limits: { memory: lots }\n'),
    /^compose\.yml:\d+ services\.web\.deploy\.resources: "lots": write a size like 64m/,
  );
  assert.match(
    await bad('    deploy:\n      resources:\n        reservations: { devices: [] }\n'),
    /^compose\.yml:\d+ services\.web\.deploy\.resources\.reservations\.devices: not supported \(cpus, memory\)/,
  );
  assert.match(
    await bad(
      '    deploy:\n      resources:\n        limits: { memory: 64m }\n        reservations: { memory: 1g }\n',
    ),
    /^compose\.yml:\d+ services\.web: .*above --limit-memory 64 MiB/,
  );
  assert.match(
    await bad('    ports: ["80"]\n'),
    /^compose\.yml:4 services\.web\.ports\[0\]: give the published port too/,
  );
  assert.match(
    await bad('    healthcheck: { test: [RUN, x] }\n'),
    /^compose\.yml:4 services\.web\.healthcheck\.test: "RUN": .*CMD, CMD-SHELL or NONE/,
  );
  assert.match(
    await bad('    deploy: { update_config: { parallelism: x } }\n'),
    /^compose\.yml:4 services\.web\.deploy\.update_config: "x"/,
  );
  assert.match(await bad('    deploy: { mode: global }\n'), /global is not supported/);
  assert.match(await errorOf({ 'c.yml': 'services:\n  web: [\n' }), /^c\.yml:\d+: /);
  assert.match(await errorOf({ 'c.yml': 'services: {}\n' }), /the files name no service/);
});

test('stack plan: create, update what changed, keep a pinned image, prune what is gone', () => {
  const spec = (name: string, image = 'x:1', replicas = 1) => testSpec({ name, image, replicas, stack: 's' });
  const pinned = `x:1@sha256:${'a'.repeat(64)}`;
  const steps = stackPlan(
    [spec('s_a'), spec('s_b', 'x:2'), spec('s_c', 'x:1', 3), spec('s_new')],
    [spec('s_a', pinned), spec('s_b'), spec('s_c'), spec('s_old')],
    true,
  );
  assert.deepEqual(
    steps.map((s) => `${s.kind} ${'spec' in s ? s.spec.name : s.name}`),
    ['unchanged s_a', 'update s_b', 'update s_c', 'create s_new', 'remove s_old'],
  );
  assert.equal(stackPlan([spec('s_a')], [spec('s_a'), spec('s_old')], false).length, 1, 'no --prune: nothing removed');
});
