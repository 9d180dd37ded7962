import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TEST_IMAGE, docker, runWarren, spawnWarren, waitFor, type Daemon } from '../helpers/cluster.js';

test('warren up runs a manager and a local worker in one process; Ctrl-C stops it cleanly and a restart adopts the containers', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-up-'));
  const name = `t${randomBytes(3).toString('hex')}-local`;
  let nodeId = '';
  let up: Daemon | undefined;
  t.after(async () => {
    await up?.stop();
    const list = await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } });
    await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    await rm(dataDir, { recursive: true, force: true });
  });

  // At the default level, as a user runs it.
  const start = async (): Promise<string> => {
    up = spawnWarren(
      ['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--name', name],
      { WARREN_LOG_LEVEL: 'info' },
    );
    const address = (await up.waitForLog((l) => typeof l.joinToken === 'string')).socket as string;
    const node = await waitFor('the local node ready', async () => {
      const nodes = await runWarren(['--manager', address, 'node', 'ls', '--format', 'json']);
      return (JSON.parse(nodes.stdout || '[]') as Array<{ id: string; status: string }>).find(
        (n) => n.status === 'ready',
      );
    });
    nodeId = node.id;
    return address;
  };
  const running = async (address: string): Promise<Array<{ id: string; containerId: string }>> => {
    const res = await runWarren(['--manager', address, 'service', 'ps', 'web', '--format', 'json']);
    const tasks = JSON.parse(res.stdout) as Array<{
      id: string;
      state: string;
      desiredState: string;
      containerId: string;
    }>;
    return tasks.filter((x) => x.state === 'running' && x.desiredState === 'running');
  };

  let address = await start();
  const nodes = JSON.parse(
    (await runWarren(['--manager', address, 'node', 'ls', '--format', 'json'])).stdout,
  ) as Array<{ name: string; status: string }>;
  assert.deepEqual(
    nodes.map((n) => [n.name, n.status]),
    [[name, 'ready']],
  );
  assert.equal(
    (
      await runWarren([
        '--manager',
        address,
        'service',
        'create',
        'web',
        '--image',
        TEST_IMAGE,
        '--replicas',
        '2',
        '--',
        'sleep',
        '1000',
      ])
    ).code,
    0,
  );
  const before = await waitFor('2 running', async () =>
    (await running(address)).length === 2 ? running(address) : undefined,
  );

  // One line per event a user cares about, nothing else at the default level but the start.
  const events = await runWarren(['--manager', address, 'events', '--since', '10m', '--until', '0s']);
  const eventCount = events.stdout.split('\n').filter((l) => l.trim() !== '').length;
  await waitFor('every event logged', () => up!.lines.filter((l) => l.component === 'events').length >= eventCount);
  const startLines = new Set(['cluster CA created', 'manager started', 'joined the cluster']);
  const chatter = up!.lines.filter(
    (l) => l.component !== 'events' && !startLines.has(l.msg) && typeof l.joinToken !== 'string',
  );
  assert.deepEqual(chatter, [], 'no other lines than the events');
  assert.equal(up!.lines.filter((l) => l.component === 'events').length, eventCount, 'one line per event');
  assert.ok(
    up!.lines.some((l) => l.component === 'events' && /^web\.1: task running — running at /.test(l.msg)),
    'an event in words',
  );

  up!.process.kill('SIGINT');
  assert.equal(await up!.exited, 0);
  assert.ok(up!.lines.some((l) => l.msg === 'manager stopped'));
  const said = up!.lines.map((l) => l.msg);
  assert.ok(
    said.includes(
      '2 containers of 1 service keep running; the next warren up on this data dir adopts them; ' +
        'warren service rm to remove them',
    ),
    `the shutdown says what keeps running: ${said.slice(-5).join(' | ')}`,
  );

  address = await start();
  const after = await waitFor('2 running after restart', async () => {
    const tasks = await running(address);
    return tasks.length === 2 ? tasks : undefined;
  });
  assert.deepEqual(
    after.map((x) => x.containerId).sort(),
    before.map((x) => x.containerId).sort(),
    'same containers adopted',
  );
  assert.equal((await runWarren(['--manager', address, 'service', 'rm', 'web'])).code, 0);
  await waitFor(
    'containers removed',
    async () =>
      (await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } })).length === 0,
  );
});
