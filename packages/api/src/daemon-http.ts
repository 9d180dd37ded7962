import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { AddressInUseError } from './errors.js';

export type ComponentStatus = 'healthy' | 'degraded' | 'unhealthy';

/** One thing a daemon depends on, checked for `/health/ready`. */
export interface Component {
  name: string;
  /** A critical component that is unhealthy makes the daemon unhealthy (503). */
  critical: boolean;
  /** What it means when the check does not answer in time (default `no answer`); ` within N ms` follows. */
  silent?: string;
  check(signal: AbortSignal): Promise<{ status: ComponentStatus; message: string }>;
}

export interface ComponentReport {
  name: string;
  status: ComponentStatus;
  critical: boolean;
  latency_ms: number;
  message: string;
}

export interface DaemonHttpOptions {
  /** `host:port`; port 0 for any. */
  listen: string;
  version: string;
  components: Component[];
  registry: Registry;
  /** Each component's own timeout; default 2 s. */
  timeoutMs?: number;
  /** How often the cached status behind `/health` is refreshed; default 1 s. */
  refreshMs?: number;
  /** Told every time the overall status is computed (the gRPC health service follows it). */
  onStatus?: (status: ComponentStatus) => void;
  /**
   * More GET paths (the manager's status page): asked for any path not listed above; returns
   * false when it has nothing there (404).
   */
  pages?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/**
 * A daemon's own health over HTTP:
 * - `GET /health`: `{"status","version"}`, 200 when healthy or degraded, 503 when unhealthy.
 *   Served from a cached result refreshed in the background: no dependency is checked on it.
 * - `GET /health/ready`: every component checked now, in parallel, each within its timeout, so
 *   the answer comes within the slowest timeout, never the sum.
 * - `GET /liveness`: the process answers; nothing else is looked at.
 * - `GET /metrics`: Prometheus text.
 * - anything else: `options.pages`, if given.
 */
export class DaemonHttp {
  #cached: ComponentStatus = 'healthy';
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: DaemonHttpOptions,
    readonly address: string,
  ) {}

  /** Listens and serves; rejects with an AddressInUseError when `options.listen` is taken. */
  static async start(options: DaemonHttpOptions): Promise<DaemonHttp> {
    let self: DaemonHttp | undefined;
    const server = createServer((req, res) => void self?.handle(req, res));
    const sep = options.listen.lastIndexOf(':');
    const host = options.listen.slice(0, sep);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new AddressInUseError(options.listen, { cause: err }) : err);
      });
      server.listen(Number(options.listen.slice(sep + 1)), host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    self = new DaemonHttp(server, options, `${host}:${port}`);
    await self.#refresh();
    const loop = (): void => {
      self!.#timer = setTimeout(() => void self!.#refresh().finally(loop), options.refreshMs ?? 1000);
    };
    loop();
    return self;
  }

  /** The overall status, as `/health` reports it (cached). */
  get status(): ComponentStatus {
    return this.#cached;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Checks every component in parallel, each within the timeout. */
  async check(): Promise<{ status: ComponentStatus; components: ComponentReport[]; total_latency_ms: number }> {
    const t0 = performance.now();
    const timeoutMs = this.options.timeoutMs ?? 2000;
    const components = await Promise.all(
      this.options.components.map(async (c): Promise<ComponentReport> => {
        const start = performance.now();
        const signal = AbortSignal.timeout(timeoutMs);
        let result: { status: ComponentStatus; message: string };
        try {
          result = await Promise.race([
            c.check(signal),
            new Promise<never>((_, reject) => {
              const onAbort = (): void => reject(new Error(`${c.silent ?? 'no answer'} within ${timeoutMs} ms`));
              signal.addEventListener('abort', onAbort, { once: true });
            }),
          ]);
        } catch (err) {
          result = { status: 'unhealthy', message: (err as Error).message };
        }
        const latency_ms = Math.round(performance.now() - start);
        return { name: c.name, status: result.status, critical: c.critical, latency_ms, message: result.message };
      }),
    );
    const status: ComponentStatus = components.some((c) => c.critical && c.status === 'unhealthy')
      ? 'unhealthy'
      : components.some((c) => c.status !== 'healthy')
        ? 'degraded'
        : 'healthy';
    this.#cached = status;
    this.options.onStatus?.(status);
    return { status, components, total_latency_ms: Math.round(performance.now() - t0) };
  }

  async #refresh(): Promise<void> {
    await this.check().catch(() => undefined);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return json(405, { error: 'use GET' });
    try {
      const { version } = this.options;
      if (path === '/health') return json(this.#cached === 'unhealthy' ? 503 : 200, { status: this.#cached, version });
      if (path === '/liveness') return json(200, { status: 'alive' });
      if (path === '/health/ready') {
        const r = await this.check();
        return json(r.status === 'unhealthy' ? 503 : 200, {
          status: r.status,
          version,
          timestamp: new Date().toISOString(),
          total_latency_ms: r.total_latency_ms,
          components: r.components,
        });
      }
      if (path === '/metrics') {
        const text = await this.options.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.registry.contentType }).end(text);
        return;
      }
      if (this.options.pages && (await this.options.pages(req, res))) return;
      json(404, { error: `no ${path}: try /health, /health/ready, /liveness or /metrics` });
    } catch (err) {
      if (!res.headersSent) json(500, { error: (err as Error).message });
      else res.destroy();
    }
  }
}
