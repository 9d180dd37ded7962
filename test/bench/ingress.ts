/**
 * Published ports (DESIGN.md §6), measured with Debian's `wrk` against a real two-worker
 * cluster — each worker its own "host", 127.0.0.2 and 127.0.0.3 as ingress and advertise
 * address — and, in the same run, the same kind of backends behind Debian's HAProxy 2.6 with
 * active health checks as the peer (haproxy.ts).
 *
 *   1. Failed requests during events, Warren next to HAProxy: a replica turning unready, scale
 *      down 3 → 1, a replica replaced for liveness, service rm, a container killed with
 *      SIGKILL. Each is one wrk window (WINDOW_S, the event EVENT_AT_S in) of GET / on three
 *      busybox httpd replicas. A replica that turns unready also starts answering "unready",
 *      which wrk counts: the requests sent to it between its failure and its removal.
 *   2. Throughput and latency of one replica: straight to the container's host port, through
 *      Warren's proxy, through HAProxy; connection per request and keep-alive; the worker's CPU
 *      (its proxy) during the run.
 *   3. Readiness verdict → every proxy confirmed the table without that replica: the worker's
 *      `readiness unhealthy` log line (its `time`) to the first poll of the manager's /metrics
 *      that shows a newer table version with no proxy lagging (warren_ingress_table_version,
 *      warren_ingress_proxy_lag_versions); and warren_ingress_ack_seconds over the same rounds.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Cluster, TEST_IMAGE, docker, waitFor, type Daemon, type TaskJson } from '../helpers/cluster.js';
import { Backends, HAPROXY_CHECKS, HaProxy } from './haproxy.js';
import { NGINX_COMMAND, NGINX_IMAGE, ensureNginxImage } from './nginx-image.js';
import { medianOfRuns, percentile } from './stats.js';
import {
  cpuSeconds,
  failed,
  killWrks,
  requestsPerSecond,
  runWrk,
  sumWrk,
  wrkScript,
  type WrkOptions,
  type WrkResult,
} from './wrk.js';
import { TWO_HOSTS, portFreeOn } from '../helpers/ports.js';

const HOSTS = TWO_HOSTS;
type WorkerName = keyof typeof HOSTS;

/** The failure windows: wrk runs WINDOW_S seconds and the event starts EVENT_AT_S in. */
const WINDOW_S = 8;
const EVENT_AT_S = 2;
/**
 * The load of a failure window: two wrk processes (one per Warren proxy; both at HAProxy).
 * Few connections: busybox httpd listens with a backlog of 9, and more connections at once
 * than that on one replica (after a scale down) lose SYNs, each a 1 s retransmission.
 */
const EVENT_LOAD: WrkOptions = { threads: 1, connections: 4, seconds: WINDOW_S };
/** The throughput runs: rounds of each path, interleaved, after a short warm-up. */
const THROUGHPUT_LOAD = { threads: 2, connections: 8, seconds: 5 };
const THROUGHPUT_ROUNDS = 3;
const STOP_TIMEOUT_S = 1;

/** httpd answers `/` with the container's host name; /ready and /alive drive its probes. */
const SERVE = 'hostname > /www/index.html; touch /www/ready /www/alive; exec httpd -f -p 80 -h /www';
/**
 * A replica turning unready: its readiness file goes, and from then on it answers `/` with
 * UNREADY, so that wrk counts every request still sent to it. (Not an error status: busybox
 * httpd ends its error pages by closing, which wrk also counts as a read error.)
 */
const UNREADY = 'unready';
const TURN_UNREADY = ['sh', '-c', `rm /www/ready; echo ${UNREADY} > /www/index.html`];

interface Readiness {
  interval: string;
  retries: number;
}
const READINESS: Readiness = { interval: '250ms', retries: 1 };
/** HAProxy's own cadence (inter 1s, fall 2), for a row that compares at equal check settings. */
const READINESS_AS_HAPROXY: Readiness = { interval: '1s', retries: 2 };

export interface EventRow {
  /** Who and with what settings. */
  side: string;
  result: WrkResult;
  /** What did not happen within the window, when something did not. */
  note?: string;
}

export interface EventFigures {
  event: string;
  /** How each side did it. */
  how: string;
  rows: EventRow[];
}

export interface PathFigures {
  path: string;
  requestsPerSecond: number;
  p99Ms: number;
  /** The proxy process's CPU during the runs, in cores (Warren: the worker; HAProxy: haproxy). */
  cpuCores?: number;
}

export interface ThroughputFigures {
  backend: string;
  mode: 'connection per request' | 'keep-alive';
  paths: PathFigures[];
}

export interface VerdictFigures {
  rounds: number;
  /**
   * Per round: verdict → the manager has every proxy's ack of the table without the replica,
   * as seen by polling: at most the end of the first poll that shows it (`samplesMs`), at
   * least the start of the last poll that did not (`lowerMs`).
   */
  samplesMs: number[];
  lowerMs: number[];
  /** The median time between the starts of two polls of the manager's /metrics. */
  pollMs: number;
  /** warren_ingress_ack_seconds over the rounds: acks observed, and the bucket bound of its p99. */
  acks: number;
  ackP99BoundMs: number | undefined;
}

export interface IngressFigures {
  events: EventFigures[];
  throughput: ThroughputFigures[];
  /** Why keep-alive through a keep-alive backend was not measured, when it was not. */
  keepAliveMissing?: string;
  verdict: VerdictFigures;
}

interface Endpoint {
  taskId: string;
  node: string;
  ports: Array<{ target: number; address: string }>;
}

interface Detail {
  tasks: TaskJson[];
  endpoints: Endpoint[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.timeOrigin + performance.now();

/** One GET with a new connection: status and body, or status 0 when it failed. */
function get(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** The bench's cluster: a manager and two workers, each with its own loopback address. */
class Bench {
  readonly workers = new Map<WorkerName, Daemon>();

  constructor(
    readonly c: Cluster,
    /** wrk's reporting script; `marked` also counts responses from unready replicas. */
    readonly script: string,
    readonly marked: string,
    readonly backends: Backends,
  ) {}

  async startWorkers(): Promise<void> {
    for (const [name, host] of Object.entries(HOSTS) as Array<[WorkerName, string]>) {
      this.workers.set(name, await this.c.startWorker(name, ['--ingress-addr', host, '--advertise-addr', host]));
    }
  }

  /** The worker (its short name) of a node name as `service inspect` shows it. */
  workerOf(node: string): WorkerName {
    const name = (Object.keys(HOSTS) as WorkerName[]).find((w) => this.c.nodeName(w) === node);
    if (!name) throw new Error(`no worker of this bench is node ${node}`);
    return name;
  }

  async create(
    name: string,
    port: number,
    replicas: number,
    readiness: Readiness,
    image = TEST_IMAGE,
    command = ['sh', '-c', SERVE],
  ): Promise<void> {
    await this.c.ok(
      'service',
      'create',
      name,
      '--image',
      image,
      '--replicas',
      String(replicas),
      '--publish',
      `published=${port},target=80`,
      '--stop-timeout',
      `${STOP_TIMEOUT_S}s`,
      '--readiness-http',
      'path=/ready,port=80',
      '--readiness-interval',
      readiness.interval,
      '--readiness-retries',
      String(readiness.retries),
      '--liveness-http',
      'path=/alive,port=80',
      '--liveness-interval',
      '250ms',
      '--',
      ...command,
    );
  }

  inspect(name: string): Promise<Detail> {
    return this.c.inspect<Detail>(name);
  }

  /**
   * Waits until `n` tasks run and are ready and both proxies answer: with `distinct`, until
   * every replica's host name came back through each (busybox replicas answer `/` with it).
   */
  async ready(name: string, port: number, n: number, distinct = true): Promise<TaskJson[]> {
    const tasks = await waitFor(
      `${n} ready tasks of ${name}`,
      async () => {
        const live = (await this.inspect(name)).tasks.filter((t) => t.desiredState === 'running');
        return live.length === n && live.every((t) => t.state === 'running' && t.ready) ? live : undefined;
      },
      90_000,
      200,
    );
    const names = tasks.map((t) => t.containerId.slice(0, 12));
    await waitFor(
      `every replica of ${name} answering through both proxies`,
      async () => {
        for (const host of Object.values(HOSTS)) {
          const seen = new Set<string>();
          for (let i = 0; i < (distinct ? n * 12 : 1); i++) {
            const r = await get(host, port);
            if (r.status === 200) seen.add(r.body);
          }
          if (distinct ? !names.every((h) => seen.has(h)) : seen.size === 0) return false;
        }
        return true;
      },
      30_000,
      200,
    );
    return tasks;
  }

  /** Removes a service, if it is there, and waits until its containers are gone. */
  async remove(name: string): Promise<void> {
    await this.c.cli('service', 'rm', name);
    await waitFor(
      `the containers of ${name} gone`,
      async () => (await this.c.containers({ service: name })).length === 0,
      60_000,
      250,
    );
  }

  /** wrk on every URL at once for one window; `event` starts EVENT_AT_S in. */
  async window(urls: string[], event: () => Promise<unknown>): Promise<WrkResult> {
    const runs = Promise.all(urls.map((u) => runWrk(u, this.marked, EVENT_LOAD)));
    runs.catch(() => undefined); // awaited below
    try {
      await sleep(EVENT_AT_S * 1000);
      await event();
    } catch (err) {
      killWrks();
      await runs.catch(() => undefined);
      throw err;
    }
    return sumWrk(await runs);
  }
}

// ---------------------------------------------------------------- 1. failures during events

type EventKey = 'unready' | 'scale' | 'liveness' | 'rm' | 'kill';

const EVENTS: Array<{ key: EventKey; event: string; how: string }> = [
  {
    key: 'unready',
    event: 'readiness failure of one replica',
    how: `rm /www/ready in it through docker exec, and from then on it answers "${UNREADY}"`,
  },
  {
    key: 'scale',
    event: 'scale down 3 → 1',
    how: `Warren: service scale; HAProxy: docker stop -t ${STOP_TIMEOUT_S} two of the three`,
  },
  {
    key: 'liveness',
    event: 'a replica replaced for liveness',
    how:
      `Warren: rm /www/alive (liveness every 250ms, 3 failures); HAProxy: docker stop -t ${STOP_TIMEOUT_S} one, ` +
      'and at the same time docker run a new one, put in the spare server slot through the runtime API',
  },
  {
    key: 'rm',
    event: 'service rm',
    how:
      `Warren: service rm; HAProxy: docker stop -t ${STOP_TIMEOUT_S} all three. Afterwards every request fails on ` +
      'both (refused by Warren, 503 from HAProxy): what matters here is dropped and timed-out requests',
  },
  { key: 'kill', event: 'a container killed with SIGKILL', how: 'docker kill of one replica' },
];

async function warrenEvent(
  b: Bench,
  key: EventKey,
  readiness: Readiness,
): Promise<{ result: WrkResult; note?: string }> {
  const name = `ev-${key}${readiness === READINESS ? '' : '-slow'}`;
  const port = await portFreeOn();
  await b.create(name, port, 3, readiness);
  try {
    const tasks = await b.ready(name, port, 3);
    const x = tasks[0]!;
    const urls = Object.values(HOSTS).map((h) => `http://${h}:${port}/`);
    const result = await b.window(urls, async () => {
      if (key === 'unready') await b.c.exec(x.containerId, TURN_UNREADY);
      else if (key === 'scale') await b.c.ok('service', 'scale', `${name}=1`);
      else if (key === 'liveness') await b.c.exec(x.containerId, ['rm', '/www/alive']);
      else if (key === 'rm') await b.c.ok('service', 'rm', name);
      else await docker.getContainer(x.containerId).kill({ signal: 'SIGKILL' });
    });
    // Did the event run its course within the window?
    let note: string | undefined;
    if (key === 'unready') {
      const t = (await b.inspect(name)).tasks.find((u) => u.id === x.id);
      if (t?.ready !== false) note = 'the replica was still ready at the end of the window';
    } else if (key === 'scale') {
      if ((await b.c.containers({ service: name })).length !== 1) note = 'two replicas had not stopped by the end';
    } else if (key === 'liveness') {
      if ((await b.c.containers({ service: name })).some((k) => k.Id === x.containerId)) {
        note = 'the replica had not been replaced by the end';
      }
    } else if (key === 'rm') {
      if ((await b.c.containers({ service: name })).length > 0) note = 'containers were still running at the end';
    }
    return { result, ...(note ? { note } : {}) };
  } finally {
    await b.remove(name);
  }
}

async function haproxyEvent(b: Bench, key: EventKey): Promise<{ result: WrkResult; note?: string }> {
  const replicas = await Promise.all([0, 1, 2].map(() => b.backends.start(TEST_IMAGE, ['sh', '-c', SERVE])));
  try {
    const proxy = await HaProxy.start(replicas.map((r) => r.address));
    try {
      const [x, y, z] = replicas as [(typeof replicas)[0], (typeof replicas)[0], (typeof replicas)[0]];
      const result = await b.window([proxy.url, proxy.url], async () => {
        if (key === 'unready') await b.c.exec(x.id, TURN_UNREADY);
        else if (key === 'scale') await Promise.all([y, z].map((r) => b.backends.stop(r.id, STOP_TIMEOUT_S)));
        else if (key === 'liveness') {
          await Promise.all([
            b.backends.stop(x.id, STOP_TIMEOUT_S),
            b.backends.start(TEST_IMAGE, ['sh', '-c', SERVE]).then((n) => proxy.addSpare(n.address)),
          ]);
        } else if (key === 'rm') await Promise.all([x, y, z].map((r) => b.backends.stop(r.id, STOP_TIMEOUT_S)));
        else await b.backends.kill(x.id);
      });
      // Did HAProxy see it by the end of the window?
      const states = await proxy.serverStates();
      const down = (...names: string[]): boolean => names.every((n) => states.get(n)?.startsWith('DOWN'));
      const seen =
        key === 'unready' || key === 'kill'
          ? down('s1')
          : key === 'scale'
            ? down('s2', 's3')
            : key === 'rm'
              ? down('s1', 's2', 's3')
              : down('s1') && states.get('spare') === 'UP';
      const note = `HAProxy's server states at the end: ${[...states].map(([n, v]) => `${n} ${v}`).join(', ')}`;
      return { result, ...(seen ? {} : { note }) };
    } finally {
      await proxy.stop();
    }
  } finally {
    await b.backends.removeAll();
  }
}

async function failureEvents(b: Bench): Promise<EventFigures[]> {
  const figures: EventFigures[] = [];
  for (const e of EVENTS) {
    process.stderr.write(`bench: ingress, ${e.event}\n`);
    const rows: EventRow[] = [];
    const side = (r: Readiness, also = ''): string =>
      `Warren (readiness every ${r.interval}, ${r.retries} failure${r.retries === 1 ? '' : 's'}${also})`;
    rows.push({ side: side(READINESS), ...(await warrenEvent(b, e.key, READINESS)) });
    if (e.key === 'unready') {
      const as = ", HAProxy's cadence";
      rows.push({ side: side(READINESS_AS_HAPROXY, as), ...(await warrenEvent(b, e.key, READINESS_AS_HAPROXY)) });
    }
    rows.push({ side: 'HAProxy (inter 1s, fall 2, rise 1)', ...(await haproxyEvent(b, e.key)) });
    figures.push({ event: e.event, how: e.how, rows });
  }
  return figures;
}

// ---------------------------------------------------------------- 2. throughput and latency

interface Sample {
  rps: number;
  p99: number;
  cpu?: number;
}

async function measure(b: Bench, url: string, close: boolean, pid?: number): Promise<Sample> {
  const cpu0 = pid === undefined ? 0 : await cpuSeconds(pid);
  const t0 = performance.now();
  const r = await runWrk(url, b.script, { ...THROUGHPUT_LOAD, close });
  const wall = (performance.now() - t0) / 1000;
  const cpu = pid === undefined ? undefined : ((await cpuSeconds(pid)) - cpu0) / wall;
  if (failed(r) > 0) {
    process.stderr.write(`bench: ingress, ${failed(r)} of ${r.requests} requests failed against ${url}\n`);
  }
  return { rps: requestsPerSecond(r), p99: r.p99Ms, ...(cpu === undefined ? {} : { cpu }) };
}

async function throughputOf(
  b: Bench,
  backend: string,
  image: string,
  command: string[],
  modes: ThroughputFigures['mode'][],
): Promise<ThroughputFigures[]> {
  const name = `tp-${image === TEST_IMAGE ? 'busybox' : 'nginx'}`;
  const port = await portFreeOn();
  await b.create(name, port, 1, READINESS, image, command);
  try {
    await b.ready(name, port, 1, false);
    const endpoint = (await b.inspect(name)).endpoints[0];
    const address = endpoint?.ports.find((p) => p.target === 80)?.address;
    if (!endpoint || !address) throw new Error(`${name}: no endpoint in service inspect`);
    // Through the proxy of the replica's own node: the same hops as the direct path, plus the proxy.
    const worker = b.workerOf(endpoint.node);
    const pid = b.workers.get(worker)!.process.pid!;
    const proxy = await HaProxy.start([address]);
    try {
      const paths = [
        { path: `direct to the container's host port (${address})`, url: `http://${address}/` },
        { path: `through Warren's proxy (${HOSTS[worker]}:${port})`, url: `http://${HOSTS[worker]}:${port}/`, pid },
        { path: `through HAProxy (127.0.0.1:${proxy.port})`, url: proxy.url, pid: proxy.pid },
      ];
      const figures: ThroughputFigures[] = [];
      for (const mode of modes) {
        process.stderr.write(`bench: ingress, throughput, ${backend}, ${mode}\n`);
        const close = mode === 'connection per request';
        for (const p of paths) await runWrk(p.url, b.script, { ...THROUGHPUT_LOAD, seconds: 1, close }); // warm-up
        const samples = paths.map((): Sample[] => []);
        for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
          for (let i = 0; i < paths.length; i++) {
            const at = (round + i) % paths.length; // each round starts with another path
            const p = paths[at]!;
            samples[at]!.push(await measure(b, p.url, close, p.pid));
          }
        }
        figures.push({
          backend,
          mode,
          paths: paths.map((p, i) => medianOfRuns(p.path, samples[i]!)),
        });
      }
      return figures;
    } finally {
      await proxy.stop();
    }
  } finally {
    await b.remove(name);
  }
}

// ---------------------------------------------------------------- 3. verdict → every proxy confirmed

interface ManagerIngress {
  version: number;
  /** The most versions any connected proxy has not confirmed. */
  maxLag: number;
  /** warren_ingress_ack_seconds: cumulative bucket counts by `le` (seconds), and the count. */
  buckets: Map<number, number>;
  count: number;
}

function managerIngress(address: string, agent: http.Agent): Promise<ManagerIngress> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/metrics', agent, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        const m: ManagerIngress = { version: NaN, maxLag: 0, buckets: new Map(), count: 0 };
        for (const line of text.split('\n')) {
          if (!line.startsWith('warren_ingress_')) continue;
          const value = Number(line.slice(line.lastIndexOf(' ') + 1));
          if (line.startsWith('warren_ingress_table_version ')) m.version = value;
          else if (line.startsWith('warren_ingress_proxy_lag_versions')) m.maxLag = Math.max(m.maxLag, value);
          else if (line.startsWith('warren_ingress_ack_seconds_count')) m.count = value;
          else if (line.startsWith('warren_ingress_ack_seconds_bucket')) {
            const le = line.match(/le="([^"]+)"/)?.[1];
            if (le) m.buckets.set(le === '+Inf' ? Infinity : Number(le), value);
          }
        }
        if (Number.isNaN(m.version)) reject(new Error('no warren_ingress_table_version on the manager'));
        else resolve(m);
      });
    });
    req.on('timeout', () => req.destroy(new Error('the manager /metrics did not answer')));
    req.on('error', reject);
  });
}

/** The bucket bound (ms) under which `q` of the acks between two snapshots fall. */
function ackQuantileBound(before: ManagerIngress, after: ManagerIngress, q: number): number | undefined {
  const count = after.count - before.count;
  if (count <= 0) return undefined;
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  for (const le of bounds) {
    if ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0) >= q * count) return le * 1000;
  }
  return Infinity;
}

async function verdictLatency(b: Bench, rounds: number): Promise<VerdictFigures> {
  const name = 'verdict';
  const port = await portFreeOn();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const metrics = (): Promise<ManagerIngress> => managerIngress(b.c.managerHttp, agent);
  await b.create(name, port, 3, READINESS);
  try {
    const tasks = await b.ready(name, port, 3);
    const settled = (after: number): Promise<ManagerIngress> =>
      waitFor(
        'every proxy on the newest table',
        async () => {
          const m = await metrics();
          return m.version > after && m.maxLag === 0 ? m : undefined;
        },
        30_000,
        20,
      );
    const first = await settled(-1);
    const samplesMs: number[] = [];
    const lowerMs: number[] = [];
    const periods: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const x = tasks[round % tasks.length]!;
      const worker = b.workers.get(b.workerOf(x.node))!;
      const before = await settled(-1);
      const startedAt = Date.now();
      await b.c.exec(x.containerId, ['rm', '/www/ready']);
      const verdict = worker.waitForLog(
        (l) => l.msg === 'readiness unhealthy' && l.task === x.id && (l.time as number) >= startedAt,
        30_000,
      );
      verdict.catch(() => undefined); // awaited below, unless polling fails first
      // Poll until the manager shows a newer version that no connected proxy lags behind.
      let previousStart = NaN;
      let confirmedAt: number | undefined;
      let confirmedVersion = 0;
      const deadline = Date.now() + 30_000;
      while (confirmedAt === undefined) {
        if (Date.now() > deadline) throw new Error(`round ${round}: no newer ingress table confirmed within 30 s`);
        const start = now();
        const m = await metrics();
        if (m.version > before.version && m.maxLag === 0) {
          confirmedAt = now();
          confirmedVersion = m.version;
        } else {
          if (!Number.isNaN(previousStart)) periods.push(start - previousStart);
          previousStart = start;
          await sleep(2);
        }
      }
      const verdictAt = (await verdict).time as number;
      samplesMs.push(confirmedAt - verdictAt);
      lowerMs.push(Number.isNaN(previousStart) ? 0 : Math.max(0, previousStart - verdictAt));
      // Back to ready, and every proxy on the table that has it again, before the next round.
      const restoredAt = Date.now();
      await b.c.exec(x.containerId, ['touch', '/www/ready']);
      await worker.waitForLog(
        (l) => l.msg === 'readiness healthy' && l.task === x.id && (l.time as number) >= restoredAt,
        30_000,
      );
      await settled(confirmedVersion);
      await sleep(100);
    }
    const last = await metrics();
    return {
      rounds,
      samplesMs,
      lowerMs,
      pollMs: percentile(periods, 0.5),
      acks: last.count - first.count,
      ackP99BoundMs: ackQuantileBound(first, last, 0.99),
    };
  } finally {
    agent.destroy();
    await b.remove(name);
  }
}

// ---------------------------------------------------------------- the whole part

export async function ingressBench(verdictRounds = 20): Promise<IngressFigures> {
  const run = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'warren-bench-ingress-'));
  const backends = new Backends(run);
  let c: Cluster | undefined;
  try {
    const script = await wrkScript(dir);
    const marked = await wrkScript(dir, UNREADY);
    const keepAliveMissing = await ensureNginxImage().catch(
      (err: unknown) => `the nginx image could not be built: ${(err as Error).message}`,
    );
    c = await Cluster.create();
    const b = new Bench(c, script, marked, backends);
    await b.startWorkers();

    const events = await failureEvents(b);
    const throughput = await throughputOf(
      b,
      'busybox httpd',
      TEST_IMAGE,
      ['sh', '-c', SERVE],
      ['connection per request'],
    );
    if (keepAliveMissing === undefined) {
      throughput.push(
        ...(await throughputOf(b, 'nginx', NGINX_IMAGE, NGINX_COMMAND, ['connection per request', 'keep-alive'])),
      );
    }
    process.stderr.write('bench: ingress, readiness verdict → every proxy confirmed\n');
    const verdict = await verdictLatency(b, verdictRounds);
    return { events, throughput, verdict, ...(keepAliveMissing ? { keepAliveMissing } : {}) };
  } finally {
    killWrks();
    await c?.destroy();
    await backends.removeAll();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the report

function outcome(r: WrkResult, unready: boolean): string {
  const refused = r.connect + r.write;
  return (
    `${r.requests - r.status} answered` +
    (unready ? `, ${r.marked} of them by the unready replica` : '') +
    `; failed: refused ${refused}, dropped ${r.read}, timed out ${r.timeout}, error status ${r.status}`
  );
}

export function ingressReport(f: IngressFigures): string[] {
  const lines: string[] = [];
  lines.push(
    `published ports, requests during events: wrk GET / on 3 busybox httpd replicas, ${EVENT_LOAD.connections} connections ` +
      `per Warren proxy (127.0.0.2 and 127.0.0.3), ${2 * EVENT_LOAD.connections} to HAProxy; ${WINDOW_S} s windows, ` +
      `the event ${EVENT_AT_S} s in; stop timeout ${STOP_TIMEOUT_S}s on both`,
  );
  lines.push(
    `  HAProxy: ${HAPROXY_CHECKS}. Failed, from wrk's counts: refused = connect and write errors ` +
      '(wrk retries a refused connection at once, so these run up fast), dropped = read errors (accepted, then ' +
      'closed or reset without an answer), error status = 4xx/5xx answers',
  );
  for (const e of f.events) {
    lines.push(`  ${e.event} — ${e.how}:`);
    const width = Math.max(...e.rows.map((r) => r.side.length));
    for (const r of e.rows) {
      const unready = e.event === EVENTS[0]!.event;
      lines.push(`    ${`${r.side}:`.padEnd(width + 1)} ${outcome(r.result, unready)}${r.note ? ` — ${r.note}` : ''}`);
    }
  }

  lines.push(
    `published ports, throughput and latency of one replica: wrk -t ${THROUGHPUT_LOAD.threads} -c ${THROUGHPUT_LOAD.connections}, ` +
      `median of ${THROUGHPUT_ROUNDS} × ${THROUGHPUT_LOAD.seconds} s per path, interleaved:`,
  );
  for (const t of f.throughput) {
    lines.push(`  ${t.backend}, ${t.mode}:`);
    const direct = t.paths[0]!;
    const width = Math.max(...t.paths.map((p) => p.path.length));
    for (const [i, p] of t.paths.entries()) {
      const vsDirect =
        i === 0
          ? ''
          : ` (${((p.requestsPerSecond / direct.requestsPerSecond) * 100).toFixed(0)}% of direct)` +
            `, p99 ${p.p99Ms.toFixed(2)} ms (${p.p99Ms >= direct.p99Ms ? '+' : '−'}${Math.abs(p.p99Ms - direct.p99Ms).toFixed(2)} ms)`;
      lines.push(
        `    ${`${p.path}:`.padEnd(width + 1)} ${p.requestsPerSecond.toFixed(0)} requests/s` +
          (i === 0 ? `, p99 ${p.p99Ms.toFixed(2)} ms` : vsDirect) +
          (p.cpuCores === undefined ? '' : `, proxy process CPU ${p.cpuCores.toFixed(2)} cores`),
      );
    }
  }
  if (f.throughput.some((t) => t.backend === 'busybox httpd')) {
    lines.push(
      '  busybox httpd closes the connection after every response: keep-alive through it is connection per request',
    );
  }
  if (f.keepAliveMissing) lines.push(`  keep-alive not measured: ${f.keepAliveMissing}`);
  lines.push(
    "  target for Warren's proxy: ≥ 70% of direct throughput, p99 added ≤ 2 ms, at ≤ 1 core " +
      '(the CPU is the whole worker process, its prober included)',
  );

  const v = f.verdict;
  const s = v.samplesMs;
  lines.push(
    `published ports, readiness verdict (the worker's "readiness unhealthy" line) → the manager has every proxy's ack ` +
      `of the table without the replica, ${v.rounds} failures: p50 ${percentile(s, 0.5).toFixed(0)} ms / ` +
      `p99 ${percentile(s, 0.99).toFixed(0)} ms / max ${Math.max(...s).toFixed(0)} ms ` +
      `(upper bounds, from /metrics polled every ${v.pollMs.toFixed(1)} ms; lower bound of the p99 ` +
      `${percentile(v.lowerMs, 0.99).toFixed(0)} ms); target p99 ≤ 50 ms`,
  );
  lines.push(
    `  of which table sent → a proxy's ack (warren_ingress_ack_seconds, ${v.acks} acks): p99 ` +
      (v.ackP99BoundMs === undefined ? 'n/a' : `≤ ${v.ackP99BoundMs} ms (histogram bucket)`),
  );
  return lines;
}
