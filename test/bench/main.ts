/**
 * `npm run bench`: the figures of the issues, measured on this machine against real daemons.
 *
 *   1. service create of 10 replicas → all 10 running (wall time from the CLI call), 5 rounds
 *   2. CLI latency of `warren service ls` with 100 services (a fresh node process each run)
 *   3. probe capacity of one worker's prober (probe-capacity.ts)
 *   4. exec probes: latency, throughput, CPU per probe next to Docker's HEALTHCHECK (exec-cost.ts)
 *   5. detection time of a broken check next to its bound (detection.ts)
 *   6. time to recover, Warren next to Docker Swarm, and the manager's decision latency (recovery.ts)
 *   7. manager ingest of health results from simulated workers (ingest.ts)
 *   8. node-loss recovery next to its bound (node-loss.ts)
 *   9. images from a registry: cold start next to docker pull + run and next to the Engine API, one pull for 10 replicas (pull.ts)
 *  10. published ports: failed requests during events, throughput and latency through the proxy, and readiness
 *      verdict → every proxy confirmed, next to HAProxy with active health checks, with wrk (ingress.ts)
 *  11. rollouts: a bad image back to the good version and a good rolling update, next to Docker Swarm, and
 *      failed requests during rollouts under load (update.ts)
 *  12. the status page: page weight, time to first render with 100 services × 10 tasks, the manager's CPU with
 *      20 pages open at 1,000 results/s (status-page.ts)
 *
 *  13. failover: three managers on etcd, the leader killed under load, 10 rounds; ingest and create on etcd next
 *      to LevelDB (failover.ts)
 *  14. service logs: 1,000,000 lines of one task through the manager, read fast and by a paused reader: lines/s
 *      and the memory each process held (logs.ts)
 *  15. scale: 1,000 simulated nodes (real join and protocol over mutual TLS, no containers) on one manager: idle CPU,
 *      then 1k / 3k / 10k / 30k tasks created → running, service ls / ps, RSS; 100 nodes lost at once (scale.ts)
 *
 *  16. service names: by name next to direct (same node, across nodes), DNS answer latency, readiness verdict →
 *      tasks.NAME (names.ts)
 *  17. resources: the prober's CPU per 1,000 runs with and without reading CPU throttling; a node's room freeing →
 *      the task waiting for it running (resources.ts)
 *
 * `npm run bench -- PART…` runs only some: cli, probes, exec, detection, recovery, ingest, node-loss, pull, ingress,
 * names, resources, update, status-page, failover, logs, scale.
 *
 * Each part runs its own daemons on free ports with temp data dirs, and removes everything after.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createControlClient, unary, type wire } from '@warren/api';
import { CLI, ROOT, TEST_IMAGE, docker, spawnWarren, waitFor } from '../helpers/cluster.js';
import { detection } from './detection.js';
import { execCost } from './exec-cost.js';
import { ingest } from './ingest.js';
import { failoverBench } from './failover.js';
import { logsBench } from './logs.js';
import { scaleBench } from './scale.js';
import { scalePlot } from './scale-plot.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { ingressBench, ingressReport } from './ingress.js';
import { namesBench, namesReport } from './names.js';
import { resourcesBench, resourcesReport } from './resources.js';
import { nodeLoss } from './node-loss.js';
import { probeCapacity } from './probe-capacity.js';
import { pullBench, type Comparison } from './pull.js';
import { swarmRecovery, warrenRecovery, type Stages } from './recovery.js';
import { percentile } from './stats.js';
import { statusPageBench, statusPageReport } from './status-page.js';
import { updateBench, updateReport } from './update.js';

const ROUNDS = 5;
const LS_RUNS = 11;

function stats(samples: number[]): { median: number; min: number; max: number; p90: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), min: s[0]!, max: s[s.length - 1]!, p90: at(0.9) };
}

/** Runs `warren ARGS` as a user does (the bin, a fresh process) and resolves with its wall time in ms. */
function timeCli(
  args: string[],
  env: Record<string, string> = {},
  command = [process.execPath, CLI],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const [file, ...pre] = command;
    const child = spawn(file!, [...pre, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`warren ${args.join(' ')} exited ${code}`)),
    );
  });
}

/** `npm run bench -- pull detection` runs only those parts; no argument runs them all. */
const only = process.argv.slice(2);
const want = (part: string): boolean => only.length === 0 || only.includes(part);
const report: string[] = [];
if (want('cli')) {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-'));
  const name = `bench${randomBytes(3).toString('hex')}`;
  const up = spawnWarren(
    [
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--name',
      name,
      // As users run it (the default level): the figures are the cluster's, not its debug log's.
    ],
    { WARREN_LOG_LEVEL: 'info' },
  );
  let nodeId = '';
  try {
    const address = ((await up.waitForLog((l) => typeof l.joinToken === 'string')).socket as string) ?? '';
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
      await timeCli([
        '--manager',
        address,
        'service',
        'create',
        '--detach',
        service,
        '--image',
        TEST_IMAGE,
        '--replicas',
        '10',
        '--stop-timeout',
        '1s',
        '--',
        'sleep',
        '1000',
      ]);
      await waitFor('10 running', async () => (await runningOf(service)) === 10, 60_000, 5);
      createTimes.push(performance.now() - t0);
      await timeCli(['--manager', address, 'service', 'rm', service]);
      await waitFor(
        'containers removed',
        async () =>
          (await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } })).length === 0,
        60_000,
        50,
      );
    }

    // 2. service ls with 100 services (0 replicas: the listing is what is measured)
    for (let i = 0; i < 100; i++) {
      await unary(control.CreateService, control, {
        spec: { name: `svc${String(i).padStart(3, '0')}`, image: TEST_IMAGE, replicas: 0, command: ['sleep', '1000'] },
      });
    }
    await timeCli(['--manager', address, 'service', 'ls']); // warm the file cache (and the CLI's code cache)
    const lsTimes: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) lsTimes.push(await timeCli(['--manager', address, 'service', 'ls']));
    // What a process costs before it does anything: Node itself, and `warren --version`.
    const nodeTimes: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) nodeTimes.push(await timeCli(['-e', '0'], {}, [process.execPath]));
    const versionTimes: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) versionTimes.push(await timeCli(['--version']));
    // The same commands without the bundle and its code cache (the CLI as tsc built it), and through npx.
    const plain = { WARREN_CLI_UNBUNDLED: '1' };
    const plainLs: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) plainLs.push(await timeCli(['--manager', address, 'service', 'ls'], plain));
    const npx = ['npx', '--no-install', 'warren'];
    const npxLs: number[] = [];
    for (let i = 0; i < 5; i++) npxLs.push(await timeCli(['--manager', address, 'service', 'ls'], {}, npx));
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
    report.push(
      `service create (10 replicas) → all running, ${ROUNDS} rounds: median ${fmt(c.median)} (min ${fmt(c.min)}, max ${fmt(c.max)}); target < 2000 ms`,
    );
    const n = stats(nodeTimes);
    const v = stats(versionTimes);
    report.push(
      `warren --version, ${LS_RUNS} runs (whole process): median ${fmt(v.median)} (p90 ${fmt(v.p90)}); ` +
        `node -e 0 alone: median ${fmt(n.median)}; target ≤ 100 ms`,
    );
    report.push(
      `warren service ls, 100 services, ${LS_RUNS} runs (whole CLI process): median ${fmt(l.median)} (min ${fmt(l.min)}, p90 ${fmt(l.p90)}); target ≤ 150 ms`,
    );
    report.push(
      `  without the bundle and its code cache: median ${fmt(stats(plainLs).median)}; ` +
        `through npx --no-install warren: median ${fmt(stats(npxLs).median)}`,
    );
    report.push(
      `  of which the ListServices call itself, 50 calls: median ${r.median.toFixed(1)} ms (p90 ${r.p90.toFixed(1)} ms)`,
    );
  } finally {
    await up.kill('SIGTERM');
    if (nodeId) {
      const list = await docker.listContainers({ all: true, filters: { label: [`warren.node.id=${nodeId}`] } });
      await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (want('probes')) {
  process.stderr.write('bench: probe capacity\n');
  for (const [tasks, intervalMs] of [
    [1000, 500],
    [2500, 500],
  ] as const) {
    const f = await probeCapacity(tasks, intervalMs, 10);
    report.push(
      `probe capacity, ${f.tasks} HTTP+TCP probes every ${f.intervalMs} ms on loopback: ${f.probesPerSecond.toFixed(0)} probes/s, lag p50 ${f.lagP50} ms / p99 ${f.lagP99} ms, ` +
        `prober CPU ${f.cpuCores.toFixed(2)} cores, RSS ${f.rssMiB.toFixed(0)} MiB, ${f.failures} failed; target 2000/s with lag p99 < 20 ms and < 0.5 cores`,
    );
  }
}

if (want('exec')) {
  process.stderr.write('bench: exec probes and Docker HEALTHCHECK\n');
  const e = await execCost(100, 20);
  report.push(
    `exec probe (/bin/sh -c true) every ${e.intervalMs} ms for ${e.seconds} s against one container: latency p50 ${e.warren.p50.toFixed(0)} ms / p99 ${e.warren.p99.toFixed(0)} ms`,
  );
  report.push(
    `  machine CPU per probe: Warren ${e.warren.cpuMsPerProbe.toFixed(1)} ms (${e.warren.probes} probes), Docker HEALTHCHECK ${e.docker.cpuMsPerProbe.toFixed(1)} ms (${e.docker.probes} probes): ${e.ratio.toFixed(2)}× Docker's; target ≤ 1.2×`,
  );
  report.push(
    `  burst, ${e.burst.concurrency} in flight: ${e.burst.probesPerSecond.toFixed(1)} probes/s, latency p50 ${e.burst.p50.toFixed(0)} ms / p99 ${e.burst.p99.toFixed(0)} ms`,
  );
}

if (want('detection')) {
  process.stderr.write('bench: detection\n');
  const d = await detection(10);
  report.push(
    `detection, exec check, interval 1s, retries 3, ${d.rounds} breaks: break → unhealthy at the manager p50 ${d.p50.toFixed(0)} ms / p99 ${d.p99.toFixed(0)} ms / max ${d.max.toFixed(0)} ms; ` +
      `bound 3 × (interval + run ${d.meanRunMs.toFixed(0)} ms) = ${d.boundMs.toFixed(0)} ms; target p99 ≤ bound + 50 ms`,
  );
  report.push(`  of which worker verdict → manager: p99 ${d.reportP99} ms`);
}

if (want('recovery')) {
  process.stderr.write('bench: recovery, Warren and Docker Swarm\n');
  const ROUNDS_RECOVERY = 3;
  const w = await warrenRecovery(ROUNDS_RECOVERY);
  const sw = await swarmRecovery(ROUNDS_RECOVERY);
  const med = (xs: Stages[], k: keyof Stages) =>
    percentile(
      xs.map((x) => x[k]),
      0.5,
    ) / 1000;
  const stages = (xs: Stages[]) =>
    `unhealthy ${med(xs, 'unhealthy').toFixed(2)} s → replacement started ${med(xs, 'started').toFixed(2)} s → healthy ${med(xs, 'healthy').toFixed(2)} s`;
  report.push(
    `recovery from a broken exec check (interval 1s, retries 3, timeout 1s), median of ${ROUNDS_RECOVERY} rounds each, from the break:`,
  );
  report.push(`  Warren: ${stages(w.stages)}`);
  report.push(`  Swarm:  ${stages(sw)}`);
  report.push(
    `  Warren is ${(med(sw, 'healthy') / med(w.stages, 'healthy')).toFixed(1)}× faster end to end; target ≥ 4×`,
  );
  report.push(
    `  manager decision latency (health transition received → replacement created and assigned): ${w.decisionMs.join(', ')} ms`,
  );
}

if (want('ingest')) {
  process.stderr.write('bench: manager ingest\n');
  for (const offered of [50_000, 100_000]) {
    const g = await ingest(10, offered, offered === 50_000 ? 30 : 10);
    report.push(
      `manager ingest, ${g.workers} simulated workers, ${g.tasks} tasks, offered ${g.offeredPerSecond}/s: ${g.resultsPerSecond.toFixed(0)} results/s acked (persisted), ` +
        `send → ack p50 ${g.ackP50.toFixed(1)} ms / p99 ${g.ackP99.toFixed(1)} ms, manager RSS ${g.rssStartMiB.toFixed(0)} → ${g.rssEndMiB.toFixed(0)} MiB (max ${g.rssMaxMiB.toFixed(0)})` +
        (offered === 50_000 ? '; target 50,000/s, p99 < 100 ms, flat memory' : ' (past saturation)'),
    );
  }
}

if (want('failover')) {
  process.stderr.write('bench: failover\n');
  const f = await failoverBench(Number(process.env.WARREN_BENCH_ROUNDS ?? 10));
  const ms = (samples: number[]): string =>
    `p50 ${percentile(samples, 0.5).toFixed(0)} / p99 ${percentile(samples, 0.99).toFixed(0)} / worst ${Math.max(...samples).toFixed(0)} ms`;
  report.push(
    `failover, 3 managers on 3 etcd members, leader kill -9 under load, ${f.rounds} rounds:`,
    `  → the new leader's first reconcile pass: ${ms(f.firstPass)}; target p99 ≤ 2000 ms`,
    `  → a replica broken 0.5 s after the kill replaced and healthy: ${ms(f.replaced)}`,
    `  failed requests through the published port: ${f.failedRequests} of ${f.requests}; tasks lost or doubled: ${f.lostOrDoubled}; target 0`,
    `  service create (10 replicas) → all running, through the leader on etcd, 5 rounds: median ${percentile(f.createTen, 0.5).toFixed(0)} ms`,
  );
  const etcd = await EtcdCluster.start(1);
  try {
    for (const [store, args] of [
      ['LevelDB', []],
      ['etcd (one member)', ['--store', etcd.url]],
    ] as const) {
      const g = await ingest(10, 50_000, 30, [...args]);
      report.push(
        `  manager ingest on ${store}, offered 50,000/s: ${g.resultsPerSecond.toFixed(0)} results/s acked, ` +
          `send → ack p50 ${g.ackP50.toFixed(1)} / p99 ${g.ackP99.toFixed(1)} ms, RSS max ${g.rssMaxMiB.toFixed(0)} MiB`,
      );
    }
  } finally {
    await etcd.stop();
  }
}

if (want('logs')) {
  process.stderr.write('bench: logs\n');
  const l = await logsBench();
  const [m, w, cli] = l.fastGrowth;
  const [pm, pw, pc] = l.pausedGrowth;
  const rate = Math.round(l.lines / (l.fastMs / 1000));
  report.push(
    `service logs, one task's ${l.lines} lines (${(l.bytes / 2 ** 20).toFixed(0)} MiB with prefixes) through the manager:`,
    `  read at once: ${(l.fastMs / 1000).toFixed(1)} s, ${rate} lines/s; most memory above the start: manager ${m} MiB, worker ${w} MiB, CLI ${cli} MiB`,
    `  reader paused 5 s first: manager ${pm} MiB, worker ${pw} MiB, CLI ${pc} MiB (flow control: nothing piles up)`,
  );
}

if (want('scale')) {
  process.stderr.write('bench: scale\n');
  const sizes = (process.env.WARREN_BENCH_SCALE_SIZES ?? '1000,3000,10000,30000')
    .split(',')
    .filter(Boolean)
    .map(Number);
  const s = await scaleBench(Number(process.env.WARREN_BENCH_NODES ?? 1000), sizes);
  report.push(
    `scale: ${s.nodes} simulated nodes joined in ${(s.joinMs / 1000).toFixed(1)} s; idle with heartbeats every 1 s: ` +
      `manager ${s.idleCores.toFixed(2)} cores, RSS ${Math.round(s.idleRssMiB)} MiB`,
    '  tasks | create → all running | tasks/s | manager cores while creating | service ls | service ps (1,000) | RSS',
    ...s.steps.map(
      (x) =>
        `  ${x.tasks} | ${(x.createMs / 1000).toFixed(1)} s | ${Math.round(x.tasksPerSecond)} | ${x.managerCores.toFixed(2)} | ` +
        `${x.lsMs} ms | ${x.psMs} ms | ${Math.round(x.rssMiB)} MiB`,
    ),
    "  tasks | checked each 1 s: results acked/s | send → ack p50 / p99 | manager cores | batches held back | simulators' event loop p99 | transition → replacement assigned p50 / p99",
    ...s.steps.map(
      (x) =>
        `  ${x.tasks} | ${Math.round(x.resultsPerSecond)} | ${x.ackP50.toFixed(1)} / ${x.ackP99.toFixed(1)} ms | ` +
        `${x.checkCores.toFixed(2)} | ${x.skipped} | ${x.simLoopP99.toFixed(1)} ms | ` +
        `${x.replaceP50.toFixed(1)} / ${x.replaceP99.toFixed(1)} ms`,
    ),
    '  tasks | rolling update of 1,000 replicas, parallelism 50, monitor 1 s: whole / per batch | ' +
      'status page first render: overview / a service of 1,000 tasks, then with the checks paused | ' +
      'a failure → the open page shows it p50 / max',
    ...s.steps.map(
      (x) =>
        `  ${x.tasks} | ${(x.rollout.ms / 1000).toFixed(1)} s / ${Math.round(x.rollout.perBatchMs)} ms | ` +
        `${Math.round(x.page.overviewMs)} / ${Math.round(x.page.serviceMs)} ms, ` +
        `${Math.round(x.page.quietOverviewMs)} / ${Math.round(x.page.quietServiceMs)} ms | ` +
        `${Math.round(x.page.changeP50)} / ${Math.round(x.page.changeMax)} ms`,
    ),
    ...(s.soak
      ? [
          `  soak, ${s.soak.tasks} tasks checked each 1 s and one replaced every 5 s (${s.soak.replaced} in all), ` +
            `${s.soak.minutes} min: the store on disk each minute ${s.soak.storeMiB.map((m) => m.toFixed(1)).join(', ')} MiB`,
        ]
      : []),
    ...(s.manyServices
      ? [
          `  ${s.manyServices.services} services of one checked task: created → running ` +
            `${(s.manyServices.createMs / 1000).toFixed(1)} s; service ls ${s.manyServices.lsMs} ms`,
        ]
      : []),
    ...(s.stopped ? [`  did not finish: ${s.stopped}`] : []),
    ...(s.nodeLoss
      ? [
          `  ${s.nodeLoss.nodes} nodes lost at once (${s.nodeLoss.tasks} tasks): every task running again after ` +
            `${(s.nodeLoss.ms / 1000).toFixed(1)} s (detection bound 3 s; target bound + 2 s)`,
        ]
      : []),
    `  status reports refused: ${s.refusals.join('; ') || 'none'}`,
  );
  // WARREN_BENCH_SCALE_SVG=docs/scale.svg: the curve for the README.
  const svg = process.env.WARREN_BENCH_SCALE_SVG;
  if (svg && s.steps.length > 1) {
    const caption = `${s.nodes} simulated nodes, one manager (LevelDB), ${cpus().length} cores shared with the simulators`;
    await writeFile(svg, scalePlot(s.steps, caption));
  }
}

if (want('node-loss')) {
  process.stderr.write('bench: node loss\n');
  const n = await nodeLoss(3);
  report.push(
    `node loss (worker kill -9, heartbeat 1s, down after 3 missed), ${n.rounds} rounds: node down after ${n.downP50.toFixed(0)} ms, its tasks healthy elsewhere after ${n.recoveredP50.toFixed(0)} ms (max ${n.recoveredMax.toFixed(0)}); ` +
      `bound ${n.boundMs.toFixed(0)} ms = 3 × 1000 + container start ${n.containerStartMs.toFixed(0)} + first probe ${n.firstProbeMs.toFixed(0)}; target within 1 s of the bound`,
  );
}

if (want('pull')) {
  process.stderr.write('bench: images from a registry\n');
  const p = await pullBench(5);
  const line = (c: Comparison, warren: string, dockerSide: string): string =>
    `${warren} ${(c.warrenMs / 1000).toFixed(2)} s, ${dockerSide} ${(c.dockerMs / 1000).toFixed(2)} s: ` +
    `overhead ${(c.overhead * 100).toFixed(1)}%; target ≤ 10% ` +
    `(the pull alone: the worker's ${(c.warrenPullMs / 1000).toFixed(2)} s, Docker's ${(c.dockerPullMs / 1000).toFixed(2)} s)`;
  report.push(
    `image from a registry on a cold node, ${p.sizeMiB} MiB in 4 layers, median of ${p.rounds} rounds, → running:`,
    `  from the commands: ${line(p.cli, 'warren service create', 'docker pull + docker run')}`,
    `  from the APIs: ${line(p.api, 'CreateService RPC', 'Engine API pull + create + start')}`,
  );
  report.push(
    `  ${p.replicas} replicas of one uncached image on one node: ${p.pulls} pull by the worker, ${p.blobGets} blob GETs at the registry for ${p.blobs} blobs (layers and config); target exactly one pull`,
  );
}

if (want('ingress')) {
  process.stderr.write('bench: published ports, Warren and HAProxy\n');
  report.push(...ingressReport(await ingressBench()));
}

if (want('names')) {
  process.stderr.write('bench: service names\n');
  report.push(...namesReport(await namesBench()));
}

if (want('resources')) {
  process.stderr.write('bench: resources\n');
  report.push(...resourcesReport(await resourcesBench()));
}

if (want('update')) {
  process.stderr.write('bench: rollouts, Warren and Docker Swarm\n');
  report.push(...updateReport(await updateBench(3)));
}

if (want('status-page')) {
  process.stderr.write('bench: the status page\n');
  report.push(...statusPageReport(await statusPageBench(5)));
}

console.log(
  `Warren bench — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`,
);
console.log(report.join('\n'));
