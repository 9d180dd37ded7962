import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ForwardedConnection } from './connection.js';
import { ingressMetrics } from './metrics.js';
import { EndpointPool } from './pool.js';
import { PublishedPort, type PortShared } from './port.js';
import { NewestFirstQueue } from './queue.js';
import type { IngressTable } from './table.js';

export interface IngressProxyOptions {
  /** The address the proxy listens on, for every published port. */
  host: string;
  /** The caller's child logger (its component). */
  logger: Logger;
  /** Where the `warren_ingress_*` metrics go; none by default. */
  registry?: Registry;
  /** How long an endpoint that failed a connection is skipped: 5000 ms by default. */
  ejectMs?: number;
  /** How long a connect to an endpoint may take: 2000 ms by default. */
  connectTimeoutMs?: number;
  /** Endpoints tried per client connection: 3 by default. */
  maxAttempts?: number;
  /** How often ports that failed to bind are tried again between tables: 5000 ms by default. */
  rebindMs?: number;
  /**
   * Called when a retry between tables changed the ports that fail to bind, so that the worker
   * can acknowledge its version again with the news; not called for the result of `apply`.
   */
  onBindErrors?: (applied: IngressApplied) => void;
}

/** A published port the proxy cannot listen on, and why in words. */
export interface IngressBindError {
  published: number;
  error: string;
}

/** What an `apply` did: the version now applied and the ports that failed to bind. */
export interface IngressApplied {
  version: number;
  bindErrors: IngressBindError[];
}

type Compiled = Required<Omit<IngressProxyOptions, 'registry' | 'onBindErrors'>> &
  Pick<IngressProxyOptions, 'onBindErrors'>;

function compileOptions(options: IngressProxyOptions): Compiled {
  const compiled = { ejectMs: 5000, connectTimeoutMs: 2000, maxAttempts: 3, rebindMs: 5000, ...options };
  for (const key of ['ejectMs', 'connectTimeoutMs', 'maxAttempts', 'rebindMs'] as const) {
    if (!(compiled[key] > 0)) throw new RangeError(`ingress proxy: ${key} must be positive, not ${compiled[key]}`);
  }
  return compiled;
}

const STOPPED = 'the ingress proxy is stopped';

/**
 * The worker's TCP proxy for the cluster's published ports: it listens on `host:published` for
 * every published port of the ingress table and forwards each connection to one of the port's
 * endpoints, the least busy one, trying others when one fails (see ForwardedConnection).
 * Tables are applied one at a time, newest first; once `apply` resolves no new connection goes
 * to an endpoint the table no longer lists, which is what the worker's acknowledgement promises.
 */
export class IngressProxy {
  readonly #options: Compiled;
  readonly #shared: PortShared;
  readonly #ports = new Map<number, PublishedPort>();
  readonly #connections = new Set<ForwardedConnection>();
  readonly #queue = new NewestFirstQueue((table: IngressTable) => this.#apply(table));
  /** The table applied last: the rebind timer applies it again. */
  #table: IngressTable = { version: 0, services: [] };
  #state: 'running' | 'stopping' | 'stopped' = 'running';
  #rebindTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: IngressProxyOptions) {
    const compiled = compileOptions(options);
    const metrics = ingressMetrics(options.registry);
    this.#options = compiled;
    this.#shared = {
      ...compiled,
      pool: new EndpointPool(compiled.ejectMs),
      metrics,
      accept: (port, socket) => this.#accept(port, socket),
    };
  }

  /** The version of the table applied last (0 before the first). */
  get version(): number {
    return this.#table.version;
  }

  /** Connections open or being opened to each endpoint address (for tests and diagnostics). */
  get activeConnections(): ReadonlyMap<string, number> {
    return this.#shared.pool.active;
  }

  /**
   * Makes the listeners and endpoints match `table`. Resolves once every port of the table
   * listens or has failed to bind, and every connection started towards an endpoint it no
   * longer lists has failed or been answered (ANSWER_WAIT_MS after its connect, and
   * connectTimeoutMs in all, at most): a request sent just before is served before the stop
   * that follows the acknowledgement. Tables wait for the one being applied; a
   * newer one replaces an older one still waiting, and one older than the version applied is
   * ignored: each is answered with the version applied in the end.
   */
  apply(table: IngressTable): Promise<IngressApplied> {
    if (this.#state !== 'running') return Promise.reject(new Error(STOPPED));
    return this.#queue.push(table);
  }

  /**
   * This node saw the task's container die: its endpoints are skipped at once, before the
   * manager's next table. A dead container's address may not refuse but swallow the connect
   * (its veth is gone), which would cost a client a connect timeout.
   */
  ejectTask(taskId: string): void {
    for (const service of this.#table.services) {
      for (const port of service.ports) {
        for (const e of port.endpoints) if (e.taskId === taskId) this.#shared.pool.eject(e.address);
      }
    }
  }

  /** Stops listening and ends every connection; tables waiting to be applied are refused. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    clearTimeout(this.#rebindTimer);
    await this.#queue.close(new Error(STOPPED));
    const closing = [...this.#ports.values()].map((port) => port.close());
    for (const connection of this.#connections) connection.destroy();
    this.#ports.clear();
    await Promise.all(closing);
    this.#state = 'stopped';
  }

  async #apply(table: IngressTable): Promise<IngressApplied> {
    if (!table.baseline && table.version < this.#table.version) return this.#applied();
    const wanted = this.#wanted(table);
    const settling: Array<Promise<void>> = [];
    const binding: Array<Promise<void>> = [];
    for (const port of this.#ports.values()) {
      if (wanted.has(port.published)) continue;
      settling.push(...port.unansweredTo(port.addresses));
      void port.close();
      this.#ports.delete(port.published);
    }
    for (const [published, { service, addresses }] of wanted) {
      let port = this.#ports.get(published);
      if (!port) this.#ports.set(published, (port = new PublishedPort(published, service, this.#shared)));
      const kept = new Set(addresses);
      settling.push(...port.unansweredTo(port.addresses.filter((a) => !kept.has(a))));
      port.addresses = addresses;
      port.service = service;
      if (!port.listening) binding.push(port.listen());
    }
    this.#shared.pool.retain(new Set([...wanted.values()].flatMap((w) => w.addresses)));
    await Promise.all([Promise.all(binding), this.#settled(settling)]);
    this.#table = table;
    this.#shared.metrics.tableVersion(table.version);
    this.#scheduleRebind();
    return this.#applied();
  }

  /** Each published port of `table`: its service's name and endpoint addresses. */
  #wanted(table: IngressTable): Map<number, { service: string; addresses: string[] }> {
    const wanted = new Map<number, { service: string; addresses: string[] }>();
    for (const service of table.services) {
      for (const { published, endpoints } of service.ports) {
        const taken = wanted.get(published);
        if (taken) {
          const services = [taken.service, service.name];
          this.#shared.logger.warn({ published, services }, 'two services publish one port; the first one has it');
          continue;
        }
        wanted.set(published, { service: service.name, addresses: [...new Set(endpoints.map((e) => e.address))] });
      }
    }
    return wanted;
  }

  #applied(): IngressApplied {
    const bindErrors: IngressBindError[] = [];
    for (const { published, bindError } of this.#ports.values()) {
      if (bindError !== undefined) bindErrors.push({ published, error: bindError });
    }
    bindErrors.sort((a, b) => a.published - b.published);
    return { version: this.#table.version, bindErrors };
  }

  /** Waits for `connects`, connectTimeoutMs at most. */
  async #settled(connects: Array<Promise<void>>): Promise<void> {
    if (connects.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.connectTimeoutMs)));
    await Promise.race([Promise.all(connects), bound]);
    clearTimeout(timer);
  }

  /** While a port cannot listen, tries again every rebindMs by applying the same table again. */
  #scheduleRebind(): void {
    clearTimeout(this.#rebindTimer);
    this.#rebindTimer = undefined;
    if (this.#state !== 'running' || !this.#applied().bindErrors.length) return;
    this.#rebindTimer = setTimeout(() => {
      this.#rebindTimer = undefined;
      // A table on its way tries again anyway.
      if (this.#state !== 'running' || !this.#queue.idle) return;
      const before = JSON.stringify(this.#applied().bindErrors);
      this.#queue.push(this.#table).then(
        (applied) => {
          if (JSON.stringify(applied.bindErrors) !== before) this.#options.onBindErrors?.(applied);
        },
        () => undefined, // stopped meanwhile
      );
    }, this.#options.rebindMs).unref();
  }

  #accept(port: PublishedPort, socket: Socket): void {
    if (this.#state !== 'running') {
      socket.destroy();
      return;
    }
    const { service } = port;
    const connection = new ForwardedConnection(socket, port.context);
    this.#connections.add(connection);
    this.#shared.metrics.active(service, 1);
    socket.once('close', () => {
      this.#connections.delete(connection);
      this.#shared.metrics.active(service, -1);
    });
    connection.start();
  }
}
