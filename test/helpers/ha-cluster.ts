/**
 * Several managers on real etcd members (DESIGN 9), workers that know them all, and the CLI
 * through any manager's socket: for the failover tests and bench. `destroy()` stops everything
 * and removes its containers and temp dirs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { removeContainersOf, runWarren, spawnWarren, waitFor, type CliResult, type Daemon } from './cluster.js';
import { EtcdCluster } from './etcd.js';

export interface ManagerProcess {
  daemon: Daemon;
  dataDir: string;
  /** The TLS address (workers, remote CLIs), `127.0.0.1:PORT`. */
  address: string;
  /** The local socket, `unix:…`. */
  socket: string;
  http: string;
  id: string;
}

interface ManagersInfo {
  managers: Array<{ id: string; leader: boolean; address: string }>;
  etcd: Array<{ endpoint: string; healthy: boolean }>;
  quorum: boolean;
  message: string;
}

export class HaCluster {
  readonly prefix = `t${randomBytes(3).toString('hex')}`;
  readonly managers: ManagerProcess[] = [];
  readonly workers = new Map<string, Daemon>();
  readonly nodeIds = new Set<string>();
  workerToken = '';
  managerToken = '';

  private constructor(
    readonly dir: string,
    readonly etcd: EtcdCluster,
    readonly managerArgs: string[],
  ) {}

  /** `managers` managers on `members` etcd members; the first creates the cluster, the others join it. */
  static async create(
    options: { managers?: number; members?: number; managerArgs?: string[]; etcdTls?: boolean } = {},
  ): Promise<HaCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'warren-ha-'));
    const etcd = await EtcdCluster.start(options.members ?? 3, { tls: options.etcdTls });
    const cluster = new HaCluster(dir, etcd, [
      ...(options.managerArgs ?? ['--heartbeat-interval', '500ms']),
      ...etcd.managerTlsFlags,
    ]);
    try {
      for (let i = 0; i < (options.managers ?? 3); i++) await cluster.startManager(i);
      return cluster;
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  /** Starts manager `i` (again: on its data dir and addresses, and then it needs no token). */
  async startManager(i: number): Promise<ManagerProcess> {
    const known = this.managers[i];
    const dataDir = known?.dataDir ?? join(this.dir, `manager${i + 1}`);
    const token = i > 0 && !known ? ['--token', this.managerToken] : [];
    const daemon = spawnWarren([
      ...['manager', '--data-dir', dataDir, '--store', this.etcd.url],
      ...['--listen', known?.address ?? '127.0.0.1:0', '--http', known?.http ?? '127.0.0.1:0'],
      ...token,
      ...this.managerArgs,
    ]);
    const started = await daemon.waitForLog((l) => l.msg === 'manager started', 30_000);
    const joined = await daemon.waitForLog((l) => typeof l.joinToken === 'string');
    const m: ManagerProcess = {
      daemon,
      dataDir,
      address: started.address as string,
      socket: started.socket as string,
      http: started.http as string,
      id: started.id as string,
    };
    this.managers[i] = m;
    if (i === 0 && !this.workerToken) {
      this.workerToken = joined.joinToken as string;
      const token = await runWarren(['--manager', m.socket, 'join-token', 'manager', '-q']);
      if (token.code !== 0) throw new Error(`join-token manager: ${token.stderr}`);
      this.managerToken = token.stdout.trim();
    }
    return m;
  }

  /** Every manager's TLS address, `a,b,c`, as workers are given them. */
  get addresses(): string {
    return this.managers.map((m) => m.address).join(',');
  }

  /** The sockets of the managers that run, `unix:a,unix:b`: the CLI tries them in turn. */
  get sockets(): string {
    return this.managers
      .filter((m) => m.daemon.process.exitCode === null && m.daemon.process.signalCode === null)
      .map((m) => m.socket)
      .join(',');
  }

  nodeName(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** Joins worker `name` with every manager's address; resolves once it has its assignments. */
  async startWorker(name: string, extra: string[] = []): Promise<Daemon> {
    const worker = spawnWarren([
      ...['worker', '--manager', this.addresses, '--token', this.workerToken],
      ...['--data-dir', join(this.dir, 'workers', name), '--name', this.nodeName(name), ...extra],
    ]);
    this.workers.set(name, worker);
    const registered = await worker.waitForLog((l) => l.msg === 'registered with manager', 30_000);
    this.nodeIds.add(registered.id as string);
    await worker.waitForLog((l) => l.msg === 'assignments received', 30_000);
    return worker;
  }

  /** The CLI through the managers' sockets (create and scale detached, as Cluster.cli). */
  cli(...args: string[]): Promise<CliResult> {
    const detach = args[0] === 'service' && (args[1] === 'create' || args[1] === 'scale');
    const all = detach ? [args[0]!, args[1]!, '--detach', ...args.slice(2)] : args;
    return runWarren(['--manager', this.sockets, ...all]);
  }

  async ok(...args: string[]): Promise<string> {
    const res = await this.cli(...args);
    if (res.code !== 0) throw new Error(`warren ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  }

  /** `manager ls --format json`, as manager `via` answers it. */
  async managersInfo(via?: number): Promise<ManagersInfo> {
    const socket = via === undefined ? this.sockets : this.managers[via]!.socket;
    const res = await runWarren(['--manager', socket, 'manager', 'ls', '--format', 'json']);
    if (res.code !== 0) throw new Error(`manager ls: ${res.stderr}`);
    return JSON.parse(res.stdout) as ManagersInfo;
  }

  /** The index of the manager that leads, waiting (up to `timeoutMs`) until one does and `accept` it. */
  async leader(timeoutMs = 30_000, accept: (i: number) => boolean = () => true): Promise<number> {
    return waitFor(
      'a leader',
      async () => {
        const info = await this.managersInfo();
        const id = info.managers.find((m) => m.leader)?.id;
        const i = this.managers.findIndex((m) => m.id === id);
        return i >= 0 && accept(i) ? i : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await Promise.all(this.managers.map((m) => m.daemon.stop()));
    try {
      await removeContainersOf(this.nodeIds);
    } finally {
      await this.etcd.stop();
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
