/**
 * Real etcd members (Debian's etcd-server, 3.4) for tests and benches: 1 or 3 on loopback ports
 * in a temp dir, each its own process that a test can kill, freeze and start again. Tuned as the
 * README tells users for fast failover: heartbeat 50 ms, election timeout 500 ms (etcd grants
 * leases of at least 1.5 election timeouts, so a 1 s lease). `stop()` ends them and removes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { waitFor } from './cluster.js';
import { writeEtcdTls, type EtcdTlsFiles } from './etcd-tls.js';
import { portFreeOn } from './ports.js';

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  process?: ChildProcess;
  log: string;
}

/** Members still running when the test process exits are killed. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export class EtcdCluster {
  readonly #token = `warren-test-${randomBytes(4).toString('hex')}`;

  private constructor(
    readonly dir: string,
    readonly members: Member[],
    /** With `tls`: clients speak mutual TLS to the members (a CA of the test's own). */
    readonly tls?: EtcdTlsFiles,
  ) {}

  /** Starts `size` members and waits until the cluster answers. */
  static async start(size = 1, options: { tls?: boolean } = {}): Promise<EtcdCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'warren-etcd-'));
    const tls = options.tls ? await writeEtcdTls(dir) : undefined;
    const members: Member[] = [];
    for (let i = 1; i <= size; i++) {
      members.push({ name: `m${i}`, clientPort: await portFreeOn(['127.0.0.1']), peerPort: 0, log: '' });
      members.at(-1)!.peerPort = await portFreeOn(['127.0.0.1']);
    }
    const cluster = new EtcdCluster(dir, members, tls);
    try {
      for (const m of members) cluster.#spawn(m, 'new');
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** `etcd://127.0.0.1:P1,127.0.0.1:P2,…`, as `warren manager --store` takes it. */
  get url(): string {
    return `etcd://${this.members.map((m) => `127.0.0.1:${m.clientPort}`).join(',')}`;
  }

  /** `http://127.0.0.1:P` for each member. */
  get endpoints(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  /** The flags that give a manager TLS to these members (none without `tls`). */
  get managerTlsFlags(): string[] {
    if (!this.tls) return [];
    return ['--etcd-cacert', this.tls.ca, '--etcd-cert', this.tls.clientCert, '--etcd-key', this.tls.clientKey];
  }

  #clientUrl(m: Member): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${m.clientPort}`;
  }

  /** GET (or POST `body` to) `path` on member `m`: over TLS with the client certificate when the members use it. */
  async #ask(m: Member, path: string, body?: string): Promise<{ ok: boolean; json: unknown }> {
    if (!this.tls) {
      const res = await fetch(`http://127.0.0.1:${m.clientPort}${path}`, body ? { method: 'POST', body } : {});
      return { ok: res.ok, json: await res.json() };
    }
    const tls = this.tls;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...{ host: '127.0.0.1', port: m.clientPort, path, method: body ? 'POST' : 'GET', timeout: 2000 },
          ...{ ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => {
            try {
              resolve({ ok: (res.statusCode ?? 500) < 300, json: JSON.parse(text) });
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  }

  #spawn(m: Member, state: 'new' | 'existing'): void {
    const peer = (x: Member) => `http://127.0.0.1:${x.peerPort}`;
    const args = [
      ...['--name', m.name, '--data-dir', join(this.dir, m.name)],
      ...['--listen-client-urls', this.#clientUrl(m)],
      ...['--advertise-client-urls', this.#clientUrl(m)],
      ...(this.tls ? ['--cert-file', this.tls.serverCert, '--key-file', this.tls.serverKey] : []),
      ...(this.tls ? ['--trusted-ca-file', this.tls.ca, '--client-cert-auth'] : []),
      ...['--listen-peer-urls', peer(m), '--initial-advertise-peer-urls', peer(m)],
      ...['--initial-cluster', this.members.map((x) => `${x.name}=${peer(x)}`).join(',')],
      ...['--initial-cluster-state', state, '--initial-cluster-token', this.#token],
      ...['--heartbeat-interval', '50', '--election-timeout', '500'],
      ...['--logger', 'zap', '--log-level', 'warn'],
    ];
    const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    m.process = proc;
    m.log = '';
    live.add(proc);
    proc.stderr!.on('data', (chunk: Buffer) => (m.log = (m.log + chunk.toString()).slice(-20_000)));
    proc.on('exit', () => live.delete(proc));
  }

  /** Waits until every running member says it is healthy (it has a leader). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const running = this.members.filter(
      (m) => m.process && m.process.exitCode === null && m.process.signalCode === null,
    );
    await waitFor(
      `etcd members ${running.map((m) => m.name).join(', ')} healthy`,
      async () => {
        for (const m of running) {
          const res = await this.#ask(m, '/health').catch(() => undefined);
          if (!res?.ok || (res.json as { health?: string }).health !== 'true') return false;
        }
        return true;
      },
      timeoutMs,
      100,
    );
  }

  /** The index of the member that leads etcd's own Raft now, as the running members say. */
  async leaderIndex(): Promise<number> {
    const status = async (m: Member): Promise<{ id?: string; leader?: string }> => {
      const res = await this.#ask(m, '/v3/maintenance/status', '{}');
      const body = res.json as { header?: { member_id?: string }; leader?: string };
      return { id: body.header?.member_id, leader: body.leader };
    };
    return waitFor('etcd to have a leader', async () => {
      const all = await Promise.all(
        this.members.map((m) => status(m).catch(() => ({}) as { id?: string; leader?: string })),
      );
      const leader = all.find((s) => s.leader)?.leader;
      const i = all.findIndex((s) => s.id !== undefined && s.id === leader);
      return i >= 0 ? i : undefined;
    });
  }

  /** Sends `signal` to member `i` (0-based); SIGKILL waits for it to be gone. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.members[i]!.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await gone;
  }

  /** Starts member `i` again on its data dir (it rejoins the cluster). */
  restart(i: number): void {
    this.#spawn(this.members[i]!, 'existing');
  }

  async stop(): Promise<void> {
    for (const m of this.members) m.process?.kill('SIGCONT');
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
