import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ForwardedConnection } from './connection.js';
import { ingressMetrics } from './metrics.js';
import { EndpointPool } from './pool.js';
import { joinHostPort } from './listen.js';
import { PortListener } from './listener.js';
import { plan } from './plan.js';
import { NewestFirstQueue } from './queue.js';
import { Route, type RouteShared } from './route.js';
import type { IngressTable } from './table.js';

export interface IngressProxyOptions {
  /** The address the proxy listens on, for every published port (virtual IPs apart). */
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
   * Called when a retry between tables changed the ports that fail to bind (virtual IPs' too), so
   * that the worker can acknowledge its version again with the news and its names follow; not
   * called for the result of `apply`.
   */
  onBindErrors?: (applied: IngressApplied) => void;
}

/**
 * A port the proxy cannot listen on, and why in words: a published port, or (published 0) the
 * port `namePort` of the virtual IP of the service `serviceId`.
 */
export interface IngressBindError {
  published: number;
  error: string;
  namePort?: number;
  serviceId?: string;
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
  readonly #shared: RouteShared;
  /** By key: `*:published` for a published port, `vip:target` for a port of a virtual IP. */
  readonly #routes = new Map<string, Route>();
  /** By `host:port`. */
  readonly #listeners = new Map<string, PortListener>();
  /** The virtual IPs of the table being applied or applied. */
  #vips = new Set<string>();
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
    this.#shared = { ...compiled, pool: new EndpointPool(compiled.ejectMs), metrics };
  }

  /** The version of the table applied last (0 before the first). */
  get version(): number {
    return this.#table.version;
  }

  /** The table applied last. */
  get table(): IngressTable {
    return this.#table;
  }

  /**
   * Virtual IPs that cannot listen on one of their ports (a program of the host holds the port
   * on every address): a connection there would reach that program, so the name must not lead there.
   */
  get failingVips(): Set<string> {
    const failing = new Set<string>();
    for (const l of this.#listeners.values()) if (l.published === 0 && l.bindError !== undefined) failing.add(l.host);
    return failing;
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
    const closing = [...this.#listeners.values()].map((listener) => listener.close());
    for (const connection of this.#connections) connection.destroy();
    this.#listeners.clear();
    this.#routes.clear();
    await Promise.all(closing);
    this.#state = 'stopped';
  }

  async #apply(table: IngressTable): Promise<IngressApplied> {
    if (!table.baseline && table.version < this.#table.version) return this.#applied();
    const wanted = plan(table, this.#options.host, this.#shared.logger);
    this.#vips = new Set(table.services.flatMap((s) => (s.vip ? [s.vip] : [])));
    const settling: Array<Promise<void>> = [];
    for (const route of this.#routes.values()) {
      const kept = new Set(wanted.routes.get(route.key)?.addresses);
      settling.push(...route.unansweredTo(route.addresses.filter((a) => !kept.has(a))));
      if (wanted.routes.has(route.key)) continue;
      route.addresses = [];
      this.#routes.delete(route.key);
    }
    for (const [key, { service, addresses }] of wanted.routes) {
      let route = this.#routes.get(key);
      if (!route) this.#routes.set(key, (route = new Route(key, service, this.#shared)));
      route.addresses = addresses;
      route.service = service;
    }
    // Listeners that go are closed first: a published port's wildcard listener may take over a
    // virtual IP's port.
    for (const listener of this.#listeners.values()) {
      if (wanted.listeners.has(listener.key)) continue;
      void listener.close();
      this.#listeners.delete(listener.key);
    }
    const binding: Array<Promise<void>> = [];
    for (const [key, { host, port, service, serviceId, published, byAddress }] of wanted.listeners) {
      let listener = this.#listeners.get(key);
      if (!listener) {
        const accept = (l: PortListener, socket: Socket) => this.#accept(l, socket);
        listener = new PortListener(host, port, published, service, serviceId, this.#shared.logger, accept);
        this.#listeners.set(key, listener);
      }
      listener.service = service;
      listener.serviceId = serviceId;
      listener.byAddress = byAddress === true;
      if (!listener.listening) binding.push(listener.listen());
    }
    this.#shared.pool.retain(new Set([...wanted.routes.values()].flatMap((w) => w.addresses)));
    await Promise.all([Promise.all(binding), this.#settled(settling)]);
    this.#table = table;
    this.#shared.metrics.tableVersion(table.version);
    this.#scheduleRebind();
    return this.#applied();
  }

  #applied(): IngressApplied {
    const bindErrors: IngressBindError[] = [];
    for (const { published, port, serviceId, bindError } of this.#listeners.values()) {
      if (bindError === undefined) continue;
      bindErrors.push(
        published > 0 ? { published, error: bindError } : { published, namePort: port, serviceId, error: bindError },
      );
    }
    bindErrors.sort(
      (a, b) =>
        a.published - b.published ||
        (a.serviceId ?? '').localeCompare(b.serviceId ?? '') ||
        (a.namePort ?? 0) - (b.namePort ?? 0),
    );
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
    const failing = () => [...this.#listeners.values()].map((l) => l.bindError ?? '').join('\n');
    if (this.#state !== 'running' || !failing().trim()) return;
    this.#rebindTimer = setTimeout(() => {
      this.#rebindTimer = undefined;
      // A table on its way tries again anyway.
      if (this.#state !== 'running' || !this.#queue.idle) return;
      const failing = (): string => JSON.stringify(this.#applied().bindErrors);
      const before = failing();
      this.#queue.push(this.#table).then(
        (applied) => {
          if (failing() !== before) this.#options.onBindErrors?.(applied);
        },
        () => undefined, // stopped meanwhile
      );
    }, this.#options.rebindMs).unref();
  }

  /** The listener's own route, or for one that routes by address, the route of the address reached. */
  #accept(listener: PortListener, socket: Socket): void {
    // Only then the address reached is asked for (a getsockname per connection).
    const reached = listener.byAddress ? (socket.localAddress ?? '').replace(/^::ffff:/, '') : '';
    const byVip = reached ? this.#routes.get(joinHostPort(reached, listener.port)) : undefined;
    // A virtual IP reached on a port its service does not serve: no route, whatever is published there.
    const route =
      byVip ??
      (this.#vips.has(reached)
        ? undefined
        : this.#routes.get(listener.published > 0 ? `*:${listener.published}` : listener.key));
    if (this.#state !== 'running' || !route) {
      socket.destroy();
      return;
    }
    const { service } = route;
    const connection = new ForwardedConnection(socket, route.context);
    this.#connections.add(connection);
    this.#shared.metrics.active(service, 1);
    socket.once('close', () => {
      this.#connections.delete(connection);
      this.#shared.metrics.active(service, -1);
    });
    connection.start();
  }
}
