/**
 * `npm run bench`: the figures of the issues, measured on this machine against real daemons.
 *
 *   1. service create of 10 replicas → all 10 running (wall time from the CLI call), 5 rounds
 *   2. CLI latency of `warren service ls` with 100 services (a fresh node process each run)
 *
 * Runs its own `warren up` on a free port with a temp data dir, and removes everything after.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createControlClient, unary, type wire } from '@warren/api';
import { CLI, ROOT, TEST_IMAGE, docker, spawnWarren, waitFor } from '../helpers/cluster.js';

const ROUNDS = 5;
const LS_RUNS = 11;

function stats(samples: number[]): { median: number; min: number; max: number; p90: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), min: s[0]!, max: s[s.length - 1]!, p90: at(0.9) };
}

function timeCli(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`warren ${args.join(' ')} exited ${code}`))));
  });
}

const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
const name = `bench${randomBytes(3).toString('hex')}`;
const up = spawnWarren(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--name', name]);
let nodeId = '';
try {
  const address = ((await up.waitForLog((l) => typeof l.joinToken === 'string')).address as string) ?? '';
  // warn level hides the registration line: find the node through the API.
  const control = createControlClient(address);
  const nodes = await waitFor('local node ready', async () => {
    const res = await unary<object, wire.ListNodesResponseOut>(control.ListNodes, control, {});
    return res.nodes.find((n) => n.status === 'ready');
  });
  nodeId = nodes.id;
  const runningOf = async (service: string): Promise<number> => {
    const res = await unary<object, wire.ListTasksResponseOut>(control.ListTasks, control, { service });
    return res.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').length;
  };

  // 1. create 10 replicas → all running
  const createTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const service = `ten${round}`;
    const t0 = performance.now();
    await timeCli(['--manager', address, 'service', 'create', service, '--image', TEST_IMAGE, '--replicas', '10', '--stop-timeout', '1s', '--', 'sleep', '1000']);
    await waitFor('10 running', async () => (await runningOf(service)) === 10, 60_000, 5);
    createTimes.push(performance.now() - t0);
    await timeCli(['--manager', address, 'service', 'rm', service]);
    await waitFor('containers removed', async () => (await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } })).length === 0, 60_000, 50);
  }

  // 2. service ls with 100 services (0 replicas: the listing is what is measured)
  for (let i = 0; i < 100; i++) {
    await unary(control.CreateService, control, { spec: { name: `svc${String(i).padStart(3, '0')}`, image: TEST_IMAGE, replicas: 0, command: ['sleep', '1000'] } });
  }
  await timeCli(['--manager', address, 'service', 'ls']); // warm the file cache
  const lsTimes: number[] = [];
  for (let i = 0; i < LS_RUNS; i++) lsTimes.push(await timeCli(['--manager', address, 'service', 'ls']));
  const rpcTimes: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await unary(control.ListServices, control, {});
    rpcTimes.push(performance.now() - t0);
  }
  control.close();

  const c = stats(createTimes);
  const l = stats(lsTimes);
  const r = stats(rpcTimes);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  console.log(`Warren bench — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  console.log('');
  console.log(`service create (10 replicas) → all running, ${ROUNDS} rounds:  median ${fmt(c.median)}  (min ${fmt(c.min)}, max ${fmt(c.max)})   target < 2000 ms`);
  console.log(`warren service ls, 100 services, ${LS_RUNS} runs (whole CLI process): median ${fmt(l.median)}  (min ${fmt(l.min)}, p90 ${fmt(l.p90)})   target < 300 ms`);
  console.log(`  of which the ListServices call itself, 50 calls:         median ${r.median.toFixed(1)} ms  (p90 ${r.p90.toFixed(1)} ms)`);
} finally {
  await up.kill('SIGTERM');
  if (nodeId) {
    const list = await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } });
    await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  }
  await rm(dataDir, { recursive: true, force: true });
}
