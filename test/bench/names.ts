/**
 * Service names (DESIGN.md §12), measured against a real two-worker cluster — each worker its
 * own "host" (127.0.0.2 and 127.0.0.3) with its own range of virtual IPs and its own DNS server:
 *
 *   1. Throughput and latency of one nginx replica with Debian's `wrk`: straight to the
 *      container's own address, by name from its own node (the node's virtual IP for the
 *      service: the proxy connects to the container), by name from the other node (that node's
 *      virtual IP: the proxy connects to the replica's host port); connection per request and
 *      keep-alive; the worker's CPU (its proxy) during the runs.
 *   2. DNS answers at a node's server over UDP: a service's name (Warren's answer) and a name
 *      forwarded to an upstream of the bench's own on loopback.
 *   3. Readiness verdict → the node's `tasks.NAME` answers no longer list the replica: the
 *      worker's `readiness unhealthy` line (its `time`) to the first answer without it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, TEST_IMAGE, docker, waitFor, type Daemon, type TaskJson } from '../helpers/cluster.js';
import { fakeUpstream, query } from '../helpers/dns.js';
import { READY_AT_ONCE, TWO_HOSTS } from '../helpers/ports.js';
import { NGINX_COMMAND, NGINX_IMAGE, ensureNginxImage } from './nginx-image.js';
import { medianOfRuns, percentile } from './stats.js';
import { cpuSeconds } from './wrk.js';

type Node = keyof typeof TWO_HOSTS;
const LOAD = { threads: 2, connections: 8, seconds: 5 };
const ROUNDS = 3;
/** Connection per request: short runs, so that a client's ports in TIME_WAIT (60 s) stay well short of its range. */
const CLOSE_SECONDS = 2;
/** How often the verdict rounds ask a node for `tasks.NAME`: the figures' resolution. */
const POLL_MS = 2;
const SERVE = 'hostname > /www/index.html; touch /www/ready; exec httpd -f -p 80 -h /www';

export interface NamePath {
  path: string;
  requestsPerSecond: number;
  p99Ms: number;
  cpuCores?: number;
}

export interface NamesFigures {
  throughput: Array<{ mode: 'connection per request' | 'keep-alive'; paths: NamePath[] }>;
  dns: Array<{ what: string; queries: number; p50Ms: number; p99Ms: number }>;
  verdictMs: number[];
}

const now = (): number => performance.timeOrigin + performance.now();

export async function namesBench(verdictRounds = 20): Promise<NamesFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-bench-names-'));
  const upstream = await fakeUpstream({ 'outside.test': '127.0.0.77' });
  let c: Cluster | undefined;
  try {
    const missing = await ensureNginxImage();
    if (missing) throw new Error(`the nginx image could not be built: ${missing}`);
    c = await Cluster.create();
    const cluster = c;
    const workers = new Map<Node, Daemon>();
    for (const [name, host] of Object.entries(TWO_HOSTS) as Array<[Node, string]>) {
      const flags = ['--ingress-addr', host, '--advertise-addr', host, '--dns-upstream', `127.0.0.1:${upstream.port}`];
      workers.set(name, await c.startWorker(name, flags));
    }
    const dnsOf = (node: Node): string => cluster.vipRanges.get(node)!.replace(/\.0\/24$/, '.1');
    const nodeOf = (t: TaskJson): Node => t.node.split('-').at(-1) as Node;
    const vipOf = async (node: Node, name: string): Promise<string> =>
      waitFor(`${name} at ${node}`, async () => (await query(dnsOf(node), name).catch(() => undefined))?.addresses[0]);

    // 1. throughput, from a client inside a task (wrk in the nginx image)
    await c.ok(
      'service',
      'create',
      'nm',
      '--image',
      NGINX_IMAGE,
      '--expose',
      '80',
      '--readiness-tcp',
      'port=80',
      '--',
      ...NGINX_COMMAND,
    );
    // A client task per path: a client that opens a connection per request keeps each in TIME_WAIT
    // for 60 s (it is often the first to close), and its ports towards one address run out.
    await c.ok(
      'service',
      'create',
      'client',
      '--image',
      NGINX_IMAGE,
      '--replicas',
      '3',
      '--',
      '/bin/busybox',
      'sleep',
      '1000000',
    );
    const [task] = await c.waitRunning('nm', 1);
    const clients = await c.waitRunning('client', 3);
    await waitFor('nm ready', async () => (await cluster.live('nm'))[0]?.ready === true, 60_000);
    const home = nodeOf(task!);
    const away: Node = home === 'w1' ? 'w2' : 'w1';
    const ip = (await docker.getContainer(task!.containerId).inspect()).NetworkSettings.Networks.bridge!.IPAddress;
    const pid = (node: Node): number => workers.get(node)!.process.pid!;
    const [homeVip, awayVip] = [await vipOf(home, 'nm'), await vipOf(away, 'nm')];
    const paths = [
      { path: `direct to the container (${ip}:80)`, url: `http://${ip}:80/`, client: clients[0]! },
      {
        path: `by name, its own node's proxy (${homeVip}:80)`,
        url: `http://${homeVip}:80/`,
        pid: pid(home),
        client: clients[1]!,
      },
      {
        path: `by name, the other node's proxy (${awayVip}:80)`,
        url: `http://${awayVip}:80/`,
        pid: pid(away),
        client: clients[2]!,
      },
    ];
    const wrk = async (
      client: TaskJson,
      url: string,
      close: boolean,
      seconds: number,
    ): Promise<{ rps: number; p99: number }> => {
      const header = close ? ['-H', 'Connection: close'] : [];
      const args = ['wrk', '-t', String(LOAD.threads), '-c', String(LOAD.connections), '-d', `${seconds}s`];
      const out = await cluster.exec(client.containerId, [...args, '--latency', ...header, url]);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
      const errors = /Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)/.exec(out);
      if (errors) process.stderr.write(`bench: names, ${url}: ${errors[0]}\n`);
      if (!(rps > 0) || !p99) throw new Error(`wrk in the client task said: ${out}`);
      const unit = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
      return { rps, p99: Number(p99[1]) * unit };
    };
    const throughput: NamesFigures['throughput'] = [];
    for (const mode of ['connection per request', 'keep-alive'] as const) {
      process.stderr.write(`bench: names, throughput, ${mode}\n`);
      const close = mode === 'connection per request';
      for (const p of paths) await wrk(p.client, p.url, close, 1);
      const samples = paths.map((): Array<{ rps: number; p99: number; cpu?: number }> => []);
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < paths.length; i++) {
          const at = (round + i) % paths.length;
          const p = paths[at]!;
          const cpu0 = p.pid === undefined ? 0 : await cpuSeconds(p.pid);
          const t0 = performance.now();
          const r = await wrk(p.client, p.url, close, close ? CLOSE_SECONDS : LOAD.seconds);
          const wall = (performance.now() - t0) / 1000;
          const cpu = p.pid === undefined ? undefined : ((await cpuSeconds(p.pid)) - cpu0) / wall;
          samples[at]!.push({ ...r, ...(cpu === undefined ? {} : { cpu }) });
        }
      }
      throughput.push({
        mode,
        paths: paths.map((p, i) => medianOfRuns(p.path, samples[i]!)),
      });
    }
    // By name, as a task writes it: the client's own node answers `nm`.
    const byName = await cluster.exec(clients[0]!.containerId, [
      'wrk',
      '-t',
      '1',
      '-c',
      '2',
      '-d',
      '1s',
      'http://nm:80/',
    ]);
    if (!/Requests\/sec/.test(byName)) throw new Error(`wrk http://nm:80/ in the client task said: ${byName}`);

    // 2. DNS answers
    process.stderr.write('bench: names, DNS answers\n');
    const dns: NamesFigures['dns'] = [];
    for (const [what, name, count] of [
      ["a service's name (Warren's answer)", 'nm', 2000],
      ['a name forwarded to an upstream on loopback', 'outside.test', 500],
    ] as const) {
      const ms: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        await query(dnsOf(home), name);
        ms.push(performance.now() - t0);
      }
      dns.push({ what, queries: count, p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99) });
    }
    await c.ok('service', 'rm', 'nm', 'client');
    // Their containers' removal must not overlap the next part's rounds.
    await waitFor('nm and client gone', async () => (await cluster.containers({ all: true })).length === 0, 60_000);

    // 3. readiness verdict → tasks.NAME
    process.stderr.write('bench: names, readiness verdict → tasks.NAME\n');
    await c.ok(
      'service',
      'create',
      'nv',
      '--image',
      TEST_IMAGE,
      '--replicas',
      '2',
      '--expose',
      '80',
      ...READY_AT_ONCE,
      '--',
      'sh',
      '-c',
      SERVE,
    );
    const tasks = await waitFor(
      '2 ready nv',
      async () => {
        const live = await cluster.live('nv');
        return live.length === 2 && live.every((t) => t.ready) ? live : undefined;
      },
      60_000,
    );
    const verdictMs: number[] = [];
    for (let round = 0; round < verdictRounds; round++) {
      const x = tasks[round % tasks.length]!;
      const node = nodeOf(x);
      const xIp = (await docker.getContainer(x.containerId).inspect()).NetworkSettings.Networks.bridge!.IPAddress;
      await waitFor('the replica in tasks.nv', async () =>
        (await query(dnsOf(node), 'tasks.nv')).addresses.includes(xIp),
      );
      const startedAt = Date.now();
      const verdict = workers
        .get(node)!
        .waitForLog(
          (l) => l.msg === 'readiness unhealthy' && l.task === x.id && (l.time as number) >= startedAt,
          30_000,
        );
      verdict.catch(() => undefined);
      await cluster.exec(x.containerId, ['rm', '/www/ready']);
      let goneAt = 0;
      const deadline = Date.now() + 30_000;
      while (goneAt === 0) {
        if (Date.now() > deadline) throw new Error('tasks.nv kept the unready replica for 30 s');
        const a = await query(dnsOf(node), 'tasks.nv');
        if (!a.addresses.includes(xIp)) goneAt = now();
        // Asked again after a pause: a loop without one would take the worker's thread (its DNS
        // server answers on it) and a core of the two from the path it measures.
        else await sleep(POLL_MS);
      }
      verdictMs.push(goneAt - ((await verdict).time as number));
      await cluster.exec(x.containerId, ['touch', '/www/ready']);
    }
    return { throughput, dns, verdictMs };
  } finally {
    await c?.destroy();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function namesReport(f: NamesFigures): string[] {
  const lines = [
    `service names, one nginx replica, wrk -t ${LOAD.threads} -c ${LOAD.connections} in a client task (default bridge), ` +
      `a client task per path, median of ${ROUNDS} runs per path (${LOAD.seconds} s; ${CLOSE_SECONDS} s with a connection per request), interleaved:`,
  ];
  for (const t of f.throughput) {
    lines.push(`  ${t.mode}:`);
    const direct = t.paths[0]!;
    for (const [i, p] of t.paths.entries()) {
      const vs =
        i === 0
          ? `, p99 ${p.p99Ms.toFixed(2)} ms`
          : ` (${((p.requestsPerSecond / direct.requestsPerSecond) * 100).toFixed(0)}% of direct), p99 ` +
            `${p.p99Ms.toFixed(2)} ms (${p.p99Ms >= direct.p99Ms ? '+' : '−'}${Math.abs(p.p99Ms - direct.p99Ms).toFixed(2)} ms)`;
      const cpu = p.cpuCores === undefined ? '' : `, worker CPU ${p.cpuCores.toFixed(2)} cores`;
      lines.push(`    ${p.path}: ${p.requestsPerSecond.toFixed(0)} requests/s${vs}${cpu}`);
    }
  }
  lines.push('  target: ≥ 70% of direct, p99 added ≤ 2 ms');
  for (const d of f.dns) {
    lines.push(
      `service names, DNS over UDP, ${d.what}, ${d.queries} queries one after another: p50 ${d.p50Ms.toFixed(2)} ms, p99 ${d.p99Ms.toFixed(2)} ms`,
    );
  }
  const v = f.verdictMs;
  lines.push(
    `service names, readiness verdict → tasks.NAME without the replica, ${v.length} rounds: p50 ${percentile(v, 0.5).toFixed(0)} ms, ` +
      `p99 ${percentile(v, 0.99).toFixed(0)} ms, max ${Math.max(...v).toFixed(0)} ms; target p99 ≤ 50 ms`,
  );
  return lines;
}
