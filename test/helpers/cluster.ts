/**
 * End-to-end test kit: real `warren manager` / `warren worker` / `warren up` processes, the real
 * CLI, a real Docker engine. Every cluster owns a temp data dir and unique node names, and
 * `destroy()` kills its processes and removes every container of its nodes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import { EtcdCluster } from './etcd.js';
import {
  CertificateSource,
  TLS_CHANNEL_OPTIONS,
  channelCredentials,
  createControlClient,
  createWorkerClient,
  type wire,
} from '@warren/api';

type WorkerServiceClient = wire.WorkerServiceClient;
type ControlServiceClient = wire.ControlServiceClient;

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The `warren` command as npm links it: the bundled CLI (the daemons run what tsc built). */
export const CLI = join(ROOT, 'packages/cli/bin/warren.cjs');
export const TEST_IMAGE = 'warren-test:latest';
export const docker = new Docker();
const execFileAsync = promisify(execFile);

export interface LogLine {
  msg: string;
  component?: string;
  [key: string]: unknown;
}

/** A daemon process whose JSON log lines are collected. */
export class Daemon {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;
  #waiters: Array<() => void> = [];
  stderr = '';

  constructor(readonly process: ChildProcess) {
    let buffered = '';
    process.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    });
    process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      for (const w of this.#waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) =>
      process.on('exit', (code) => {
        for (const w of this.#waiters.splice(0)) w();
        resolve(code);
      }),
    );
  }

  /** Resolves with the first log line matching `match`; rejects after `timeoutMs` or on exit. */
  async waitForLog(match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(
          `process exited (${this.process.exitCode ?? this.process.signalCode}) before the expected log line; stderr: ${this.stderr}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * A clean shutdown (SIGTERM), as a user stops a daemon; SIGKILL if it has not ended within
   * `graceMs`. Clean exits also let `npm run coverage` collect the daemon's coverage.
   */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return this.exited;
    this.process.kill('SIGCONT'); // a test may have frozen it
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** What it last logged, for an assertion's message. */
  tail(count = 8): string {
    return `last lines: ${JSON.stringify(this.lines.slice(-count))}; stderr: ${this.stderr}`;
  }

  /**
   * Sends `signal` and resolves with the exit code. A daemon still running `boundMs` after a
   * signal other than SIGKILL is killed, and the test fails with what it last logged.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL', boundMs = 40_000): Promise<number | null> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return this.exited;
    this.process.kill(signal);
    if (signal === 'SIGKILL') return this.exited;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        reject(new Error(`still running ${boundMs} ms after ${signal}; ${this.tail()}`));
      }, boundMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `nodeFlags`: flags for node itself (a bench's `--cpu-prof`, which NODE_OPTIONS does not take). */
export function spawnWarren(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Daemon {
  const child = spawn(process.execPath, [...nodeFlags, CLI, ...args], {
    cwd: ROOT,
    // Debug: tests wait for the steps behind the events (a report received, a container stopped).
    env: { ...process.env, WARREN_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Daemon(child);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function runWarren(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runToEnd(process.execPath, [CLI, ...args], env);
}

/** Runs a command from the repository root to completion (killed after `timeoutMs`). */
export function runToEnd(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value other than undefined/false. Bounded by `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface ResultJson {
  time: string;
  phases: string[];
  durationMs: number;
  outcome: 'success' | 'failure' | 'unknown';
  code: number | null;
  output: string;
  counted: boolean;
  /** With a CPU limit: the share of the run its container was CPU-throttled; null: not read. */
  throttledPercent: number | null;
}

export interface TaskJson {
  id: string;
  name: string;
  slot: number;
  node: string;
  nodeId: string;
  state: string;
  desiredState: string;
  error: string;
  exitCode: number | null;
  containerId: string;
  /** The image of the spec the task runs. */
  image: string;
  health: string;
  ready: boolean;
  phases: Record<
    string,
    { status: string; successStreak: number; failureStreak: number; lastTransitionAt: string | null }
  >;
  results: ResultJson[];
  createdAt: string;
  updatedAt: string;
}

/** One manager (own data dir, port 0) and the workers joined to it. */
export class Cluster {
  readonly workers = new Map<string, Daemon>();
  readonly nodeIds = new Set<string>();
  readonly prefix = `t${randomBytes(3).toString('hex')}`;
  manager!: Daemon;
  /** The manager's TLS address (workers, remote CLIs). */
  address = '';
  /** The manager's local socket, `unix:…`: what the CLI and the tests' clients use. */
  control = '';
  token = '';
  /** The manager's HTTP endpoints, `host:port`. */
  managerHttp = '';
  /** Extra flags for `warren manager`. */
  managerArgs: string[] = [];
  /** With WARREN_TEST_STORE=etcd (the test matrix): the etcd member the manager keeps its state in. */
  etcd: EtcdCluster | undefined;

  /** Each worker's `--vip-range`, by name. */
  readonly vipRanges = new Map<string, string>();

  private constructor(readonly dataDir: string) {}

  /**
   * A manager on a temp data dir; with WARREN_TEST_STORE=etcd its state is in a one-member etcd
   * of its own (`--store`), so the manager-level tests run on both backends (scripts/test).
   */
  static async create(options: { managerArgs?: string[] } = {}): Promise<Cluster> {
    const cluster = new Cluster(await mkdtemp(join(tmpdir(), 'warren-test-')));
    cluster.managerArgs = options.managerArgs ?? [];
    if (process.env.WARREN_TEST_STORE === 'etcd') {
      cluster.etcd = await EtcdCluster.start(1);
      cluster.managerArgs.push('--store', cluster.etcd.url);
    }
    await cluster.startManager();
    return cluster;
  }

  /** Starts (or restarts) the manager on the cluster's data dir; the first start picks a port. */
  async startManager(): Promise<void> {
    this.manager = spawnWarren([
      'manager',
      '--data-dir',
      this.dataDir,
      '--listen',
      this.address || '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      ...this.managerArgs,
    ]);
    const joined = await this.manager.waitForLog((l) => typeof l.joinToken === 'string');
    this.address = joined.address as string;
    this.control = joined.socket as string;
    this.token = joined.joinToken as string;
    this.managerHttp = (await this.manager.waitForLog((l) => l.msg === 'manager started')).http as string;
  }

  /** Starts a worker named `<prefix>-<name>` and waits until it has its assignments. */
  async startWorker(name: string, extra: string[] = []): Promise<Daemon> {
    const worker = spawnWarren(this.workerArgs(name, extra));
    this.workers.set(name, worker);
    const registered = await worker.waitForLog((l) => l.msg === 'registered with manager');
    this.nodeIds.add(registered.id as string);
    await worker.waitForLog((l) => l.msg === 'assignments received');
    return worker;
  }

  /**
   * `warren worker …` joining this cluster as node `name`, with its own data dir and its own
   * range of addresses for service names (two workers on one host need two); names that are not
   * services go to a port of loopback nothing answers, never to this machine's resolvers.
   */
  workerArgs(name: string, extra: string[] = []): string[] {
    const { address, token } = this;
    let range = this.vipRanges.get(name);
    if (!range) this.vipRanges.set(name, (range = nextVipRange()));
    const names = [
      '--vip-range',
      range,
      ...(extra.includes('--dns-upstream') ? [] : ['--dns-upstream', '127.0.0.1:9']),
    ];
    return [
      'worker',
      ...names,
      '--manager',
      address,
      '--token',
      token,
      '--data-dir',
      this.workerDir(name),
      '--name',
      this.nodeName(name),
      ...extra,
    ];
  }

  nodeName(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** Where worker `name` keeps its key and certificate (a restart of the same name reuses them). */
  workerDir(name: string): string {
    return join(this.dataDir, 'workers', name);
  }

  /** Worker `name`'s certificate, key and CA as it keeps them (for clients that present them). */
  workerCredentials(name: string): grpc.ChannelCredentials {
    const read = (file: string): string => readFileSync(join(this.workerDir(name), file), 'utf8');
    return channelCredentials(new CertificateSource(read('ca.crt'), read('node.crt'), read('node.key')));
  }

  /** A WorkerService client with worker `name`'s certificate (mutual TLS), as its worker has. */
  workerClient(name: string): WorkerServiceClient {
    return createWorkerClient(this.address, this.workerCredentials(name), TLS_CHANNEL_OPTIONS);
  }

  /** The cluster CA's certificate, as the manager keeps it. */
  get caPem(): string {
    return readFileSync(join(this.dataDir, 'certs', 'ca.crt'), 'utf8');
  }

  /** A ControlService client on the manager's local socket. */
  controlClient(): ControlServiceClient {
    return createControlClient(this.control);
  }

  /**
   * Runs the CLI, with `service create` and `service scale` detached (as scripts run them): a test
   * waits for what it asserts. `attached()` runs them as a user at a terminal does, waiting.
   */
  cli(...args: string[]): Promise<CliResult> {
    const detach = args[0] === 'service' && (args[1] === 'create' || args[1] === 'scale');
    return this.attached(...(detach ? [args[0]!, args[1]!, '--detach', ...args.slice(2)] : args));
  }

  attached(...args: string[]): Promise<CliResult> {
    return runWarren(['--manager', this.control, ...args]);
  }

  /** As `attached`, for a command that may wait longer than 30 s: killed after `timeoutMs`. */
  attachedFor(timeoutMs: number, ...args: string[]): Promise<CliResult> {
    return runToEnd(process.execPath, [CLI, '--manager', this.control, ...args], {}, timeoutMs);
  }

  /** Runs the CLI and fails the test unless it exits 0. */
  async ok(...args: string[]): Promise<string> {
    const res = await this.cli(...args);
    if (res.code !== 0) throw new Error(`warren ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  }

  /** `service inspect --format json`. */
  async inspect<T = { tasks: TaskJson[] }>(service: string): Promise<T> {
    return JSON.parse(await this.ok('service', 'inspect', service, '--format', 'json')) as T;
  }

  /** The tasks of a service that should run, from `service inspect` (with health and results). */
  async live(service: string): Promise<TaskJson[]> {
    return (await this.inspect(service)).tasks.filter((t) => t.desiredState === 'running');
  }

  async tasks(service: string): Promise<TaskJson[]> {
    return JSON.parse(await this.ok('service', 'ps', service, '--format', 'json')) as TaskJson[];
  }

  /** Tasks that should run and do. */
  async running(service: string): Promise<TaskJson[]> {
    return (await this.tasks(service)).filter((t) => t.desiredState === 'running' && t.state === 'running');
  }

  /** Waits until exactly `n` tasks of `service` run, each with a running container. */
  async waitRunning(service: string, n: number, timeoutMs = 30_000): Promise<TaskJson[]> {
    return waitFor(
      `${n} running tasks of ${service}`,
      async () => {
        const tasks = await this.tasks(service);
        const live = tasks.filter((t) => t.desiredState === 'running');
        const running = live.filter((t) => t.state === 'running');
        return live.length === n && running.length === n ? running : undefined;
      },
      timeoutMs,
    );
  }

  /** Runs a command in a container (docker exec) and returns its output. */
  async exec(containerId: string, cmd: string[]): Promise<string> {
    const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('close', resolve);
    });
    const raw = Buffer.concat(chunks);
    let out = '';
    for (let at = 0; at + 8 <= raw.length;) {
      const size = raw.readUInt32BE(at + 4);
      out += raw.subarray(at + 8, at + 8 + size).toString();
      at += 8 + size;
    }
    return out;
  }

  /** Containers of this cluster's nodes, as Docker sees them. */
  async containers(filter: { service?: string; all?: boolean } = {}): Promise<Docker.ContainerInfo[]> {
    const labels = filter.service ? [`warren.service.name=${filter.service}`] : [];
    const list = await docker.listContainers({
      all: filter.all ?? false,
      filters: { label: ['warren.task.id', ...labels] },
    });
    return list.filter((c) => this.nodeIds.has(c.Labels['warren.node.id'] ?? ''));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await this.manager.stop();
    try {
      await removeContainersOf(this.nodeIds);
    } finally {
      // A worker killed does not remove its route.
      await Promise.all([...this.vipRanges.values()].map((range) => removeLocalRoute(range)));
      await this.etcd?.stop();
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

let vipRangesGiven = 0;

/** A /24 of 198.19.0.0/16 (the benchmarking range, RFC 2544) not given before in this process. */
export function nextVipRange(): string {
  vipRangesGiven++;
  return `198.19.${(vipRangesGiven % 254) + 1}.0/24`;
}

/** Removes the AnyIP route of a worker's `--vip-range`; gone already is fine. */
export async function removeLocalRoute(range: string): Promise<void> {
  await execFileAsync('ip', ['route', 'del', 'local', range, 'dev', 'lo', 'table', 'local']).catch(() => undefined);
}

/**
 * Removes every task container of the nodes `nodeIds` (a test's own), within 60 s: dockerode has
 * no timeout of its own, and an engine that stops answering fails the test here.
 */
export async function removeContainersOf(nodeIds: ReadonlySet<string>): Promise<void> {
  const removed = (async () => {
    const list = await docker.listContainers({ all: true, filters: { label: ['warren.task.id'] } });
    await Promise.all(
      list
        .filter((c) => nodeIds.has(c.Labels['warren.node.id'] ?? ''))
        .map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
    );
  })();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the Docker engine did not remove the containers within 60 s')), 60_000);
  });
  try {
    await Promise.race([removed, late]);
  } finally {
    clearTimeout(timer);
  }
}
