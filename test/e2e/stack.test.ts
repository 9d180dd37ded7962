/**
 * `warren stack` end to end: a compose file of three services — one with `healthcheck` and a
 * published port, one with an `x-warren` TCP check, one whose image carries a HEALTHCHECK —
 * deployed and serving; redeployed with a new image under load (a rollout, no failed request);
 * redeployed with a broken check (rolled back per its config); bad files (exit 2, nothing changed).
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, waitFor, type TaskJson } from '../helpers/cluster.js';
import { buildLocalImage, type LocalImage } from '../helpers/images.js';
import { Load } from '../helpers/load.js';
import { TWO_HOSTS, portFreeOn } from '../helpers/ports.js';
import { buildVersion, removeVersions } from '../helpers/versions.js';

const HOSTS = Object.values(TWO_HOSTS);

interface Detail {
  tasks: TaskJson[];
  updateStatus: { state: string; message: string } | null;
}

/** The stack's compose file: `web` runs `webImage`; `extra` is added under services.web. */
function composeFile(o: { webImage: string; hcImage: string; port: number; withCache?: boolean }): string {
  const cache = `
  cache:
    image: ${TEST_IMAGE}
    command: ["httpd", "-f", "-p", "6379", "-h", "/www"]
    x-warren:
      health-tcp: port=6379
      health-interval: 300ms
    build: ./cache`;
  return `version: "3.8"
services:
  web:
    image: ${o.webImage}
    command: httpd -f -p 80 -h /www
    ports:
      - "${o.port}:80"
    healthcheck:
      test: ["CMD-SHELL", "printf 'GET /health HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc 127.0.0.1 80 | grep -q ' 200 '"]
      interval: 250ms
      retries: 2
    deploy:
      replicas: 2
      update_config:
        parallelism: 1
        monitor: 1s
        order: start-first
        failure_action: rollback
      rollback_config:
        parallelism: 0
        monitor: 1s${o.withCache === false ? '' : cache}
  hc:
    image: ${o.hcImage}
    command: ["sh", "-c", "touch /tmp/ok && exec sleep 100000"]
networks:
  front: {}
`;
}

describe('warren stack: compose files deployed as Swarm users do', { concurrency: false }, () => {
  let c: Cluster;
  let dir = '';
  let port = 0;
  let hc: LocalImage;
  const versions: Record<string, string> = {};
  const file = (name: string): string => join(dir, name);
  const deploy = (...args: string[]) => c.cli('stack', 'deploy', ...args);
  const inspect = (name: string): Promise<Detail> => c.inspect<Detail>(name);
  const healthyOn = (name: string, image: string, n: number): Promise<TaskJson[]> =>
    waitFor(
      `${n} healthy tasks of ${name} on ${image}`,
      async () => {
        const live = (await inspect(name)).tasks.filter((t) => t.desiredState === 'running');
        const ok = live.filter((t) => t.state === 'running' && t.health === 'healthy' && t.ready && t.image === image);
        return ok.length === n && live.length === n ? ok : undefined;
      },
      120_000,
    );

  before(async () => {
    versions.v1 = await buildVersion('warren-e2e-stack', 'v1');
    versions.v2 = await buildVersion('warren-e2e-stack', 'v2');
    versions.bad = await buildVersion('warren-e2e-stack', 'bad', true);
    hc = await buildLocalImage('stackhc', ['HEALTHCHECK --interval=1s --retries=2 CMD test -f /tmp/ok']);
    dir = await mkdtemp(join(tmpdir(), 'warren-stack-'));
    port = await portFreeOn();
    c = await Cluster.create();
    for (const [i, host] of HOSTS.entries()) {
      await c.startWorker(`w${i + 1}`, ['--ingress-addr', host, '--advertise-addr', host]);
    }
  });
  after(async () => {
    await c.destroy();
    await removeVersions(Object.values(versions));
    await hc.remove();
    await rm(dir, { recursive: true, force: true });
  });

  test('deploy: three services healthy and serving; unsupported keys in one warning; ls, services, ps', async () => {
    await writeFile(file('compose.yml'), composeFile({ webImage: versions.v1!, hcImage: hc.ref, port }));
    const res = await deploy('-c', file('compose.yml'), 'app');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, 'warning: not supported, ignored: networks, services.cache.build\n');
    assert.match(res.stdout, /^Creating service app_web\nCreating service app_cache\nCreating service app_hc\n$/);
    await healthyOn('app_web', versions.v1!, 2);
    await healthyOn('app_cache', TEST_IMAGE, 1);
    await healthyOn('app_hc', hc.ref, 1);
    assert.match(await c.ok('service', 'inspect', 'app_cache'), /TCP connect to port 6379; every 300ms/);
    assert.match(await c.ok('service', 'inspect', 'app_hc'), /the image's HEALTHCHECK/);
    const body = await waitFor('web through its published port', async () => {
      const r = await fetch(`http://${HOSTS[0]}:${port}/`).catch(() => undefined);
      return r?.ok ? (await r.text()).trim() : undefined;
    });
    assert.equal(body, 'v1');

    assert.match(await c.ok('stack', 'ls'), /^NAME\s+SERVICES\napp\s+3$/m);
    const services = await c.ok('stack', 'services', 'app');
    for (const name of ['app_web', 'app_cache', 'app_hc']) assert.match(services, new RegExp(`\\b${name}\\b`));
    const ps = await c.ok('stack', 'ps', 'app');
    assert.equal(ps.match(/app_web\.\d/g)?.length, 2);
    assert.match(ps, /app_cache\.1/);
  });

  test('redeploy with a new image under load: only web rolls over, no request fails', async () => {
    await writeFile(file('compose.yml'), composeFile({ webImage: versions.v2!, hcImage: hc.ref, port }));
    const load = new Load(HOSTS.map((h) => `${h}:${port}`)).start();
    try {
      await load.flowing(200);
      const res = await deploy('-c', file('compose.yml'), 'app');
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /^Updating service app_web\napp_cache: unchanged\napp_hc: unchanged\n$/);
      await waitFor(
        'the rollout completed',
        async () => (await inspect('app_web')).updateStatus?.state === 'completed',
        120_000,
      );
      await healthyOn('app_web', versions.v2!, 2);
      await load.flowing(200);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.equal(load.outcomes.at(-1)!.body.trim(), 'v2');
  });

  test('redeploy with a broken check: the rollout is rolled back per update_config and rollback_config', async () => {
    await writeFile(file('compose.yml'), composeFile({ webImage: versions.bad!, hcImage: hc.ref, port }));
    const res = await deploy('-c', file('compose.yml'), 'app');
    assert.equal(res.code, 0, res.stderr);
    const rolled = await waitFor(
      'the rollout rolled back',
      async () => {
        const d = await inspect('app_web');
        return d.updateStatus?.state === 'rollback_completed' ? d : undefined;
      },
      120_000,
    );
    assert.match(rolled.updateStatus!.message, /rollback/);
    await healthyOn('app_web', versions.v2!, 2);
  });

  test('bad files exit 2 naming file, line and key, and change nothing; --prune and stack rm remove', async () => {
    const before = await c.ok('stack', 'services', 'app');
    const webBefore = (await inspect('app_web')).tasks.map((t) => t.id).sort();
    await writeFile(file('bad.yml'), 'services:\n  web:\n    image: x:1\n    deploy:\n      replicas: many\n');
    const bad = await deploy('-c', file('compose.yml'), '-c', file('bad.yml'), 'app');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^error: bad\.yml:5 services\.web\.deploy\.replicas: must be a whole number ≥ 0$/m);
    await writeFile(file('broken.yml'), 'services:\n  web:\n    image: [unclosed\n');
    const broken = await deploy('-c', file('broken.yml'), 'app');
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^error: broken\.yml:\d+: /m);
    assert.equal(await c.ok('stack', 'services', 'app'), before, 'nothing changed');
    assert.deepEqual((await inspect('app_web')).tasks.map((t) => t.id).sort(), webBefore);

    await writeFile(
      file('compose.yml'),
      composeFile({ webImage: versions.v2!, hcImage: hc.ref, port, withCache: false }),
    );
    const pruned = await deploy('-c', file('compose.yml'), '--prune', 'app');
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^Removing service app_cache$/m);
    assert.doesNotMatch(await c.ok('stack', 'services', 'app'), /app_cache/);

    assert.match(await c.ok('stack', 'rm', 'app'), /^Removing service app_hc\nRemoving service app_web\n$/);
    await waitFor('the stack gone', async () => (await c.containers({ all: true })).length === 0, 60_000);
    assert.doesNotMatch(await c.ok('stack', 'ls'), /^app\b/m);
    const none = await c.cli('stack', 'rm', 'app');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no stack named app/);
  });
});
