/**
 * The peer of the ingress bench: Debian's HAProxy 2.6 run by hand (never its system service)
 * on a free 127.0.0.1 port with a temp config, in front of plain `docker run` backends
 * (`-p 127.0.0.1::80`). Health checks as the issue asks: `option httpchk GET /ready`,
 * `inter 1s fall 2 rise 1`, `option redispatch`, `retries 3`; least connections, as Warren's
 * proxy picks. One spare server slot, disabled, takes a replacement through the runtime API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, waitFor } from '../helpers/cluster.js';

/** The health-check and retry settings, as printed in the report. */
export const HAPROXY_CHECKS =
  'mode http, balance leastconn, httpchk GET /ready, inter 1s fall 2 rise 1, redispatch, retries 3';

/** A port the kernel says is free on `host` now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export class HaProxy {
  readonly #exited: Promise<void>;
  #stderr = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly process: ChildProcess,
  ) {
    process.stderr!.on('data', (c: Buffer) => (this.#stderr = (this.#stderr + c.toString()).slice(-4000)));
    this.#exited = new Promise((resolve) => process.on('exit', () => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get pid(): number {
    return this.process.pid!;
  }

  /**
   * Starts haproxy in front of `servers` (`host:port` each; s1, s2, … in the config, and a
   * disabled `spare`), and waits until it listens and every server is UP.
   */
  static async start(servers: readonly string[]): Promise<HaProxy> {
    const dir = await mkdtemp(join(tmpdir(), 'warren-bench-haproxy-'));
    try {
      const port = await freePort();
      const lines = [
        'global',
        '  maxconn 4000',
        `  stats socket ${join(dir, 'admin.sock')} mode 600 level admin`,
        'defaults',
        '  mode http',
        '  balance leastconn',
        '  option redispatch',
        '  retries 3',
        '  timeout connect 1s',
        '  timeout client 10s',
        '  timeout server 10s',
        '  timeout check 1s',
        '  default-server check inter 1s fall 2 rise 1',
        'frontend ingress',
        `  bind 127.0.0.1:${port}`,
        '  default_backend replicas',
        'backend replicas',
        '  option httpchk GET /ready',
        ...servers.map((s, i) => `  server s${i + 1} ${s}`),
        '  server spare 127.0.0.1:9 disabled',
        '',
      ];
      const config = join(dir, 'haproxy.cfg');
      await writeFile(config, lines.join('\n'));
      const child = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      const proxy = new HaProxy(dir, port, child);
      const spawned = new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e) =>
          reject(new Error(`haproxy could not be started (${e.message}): run bash scripts/setup --bench`)),
        );
      });
      await spawned;
      try {
        const state = await waitFor(
          'haproxy listening with every server UP',
          async () => {
            if (child.exitCode !== null) return 'exited';
            const states = await proxy.serverStates();
            return servers.every((_, i) => states.get(`s${i + 1}`) === 'UP') ? 'up' : undefined;
          },
          15_000,
          100,
        );
        if (state === 'exited') throw new Error(`haproxy exited ${child.exitCode}: ${proxy.#stderr}`);
      } catch (err) {
        await proxy.stop();
        throw err;
      }
      return proxy;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** One command on the runtime API (the admin socket); its answer. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path: join(this.dir, 'admin.sock') });
      let out = '';
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.end(`${line}\n`));
      socket.on('data', (c: string) => (out += c));
      socket.on('error', reject);
      socket.on('close', () => resolve(out));
    });
  }

  /** Each server's status (UP, DOWN, MAINT, …) from `show stat`. */
  async serverStates(): Promise<Map<string, string>> {
    const [header, ...rows] = (await this.command('show stat')).trim().split('\n');
    const columns = (header ?? '').replace(/^# /, '').split(',');
    const name = columns.indexOf('svname');
    const status = columns.indexOf('status');
    const states = new Map<string, string>();
    for (const row of rows) {
      const cells = row.split(',');
      if (cells[0] === 'replicas') states.set(cells[name]!, cells[status]!);
    }
    return states;
  }

  /** Points the spare slot at `address` (`host:port`) and takes it out of maintenance. */
  async addSpare(address: string): Promise<void> {
    const colon = address.lastIndexOf(':');
    await this.command(`set server replicas/spare addr ${address.slice(0, colon)} port ${address.slice(colon + 1)}`);
    await this.command('set server replicas/spare state ready');
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Plain backend containers, labelled so that the bench removes every one it made. */
export class Backends {
  readonly #label: string;

  constructor(run: string) {
    this.#label = `warren.bench.ingress=${run}`;
  }

  /** `docker run -d -p 127.0.0.1::80 IMAGE CMD…`; its id and `127.0.0.1:hostport`. */
  async start(image: string, cmd: string[]): Promise<{ id: string; address: string }> {
    const [key, value] = this.#label.split('=') as [string, string];
    const container = await docker.createContainer({
      Image: image,
      Cmd: cmd,
      Labels: { [key]: value },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await container.start();
    const info = await container.inspect();
    const binding = info.NetworkSettings.Ports['80/tcp']?.[0];
    if (!binding) throw new Error(`container ${container.id.slice(0, 12)} got no host port`);
    return { id: container.id, address: `127.0.0.1:${binding.HostPort}` };
  }

  /** `docker stop -t SECONDS`. */
  async stop(id: string, seconds: number): Promise<void> {
    await docker
      .getContainer(id)
      .stop({ t: seconds })
      .catch(() => undefined);
  }

  async kill(id: string): Promise<void> {
    await docker.getContainer(id).kill({ signal: 'SIGKILL' });
  }

  /** Removes every container of this run, whatever its state. */
  async removeAll(): Promise<void> {
    const list = await docker.listContainers({ all: true, filters: { label: [this.#label] } });
    await Promise.all(
      list.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}
