import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ForwardContext } from './connection.js';
import { listenOn } from './listen.js';
import type { IngressMetrics } from './metrics.js';
import type { EndpointPool } from './pool.js';

/** What every port of one proxy shares. */
export interface PortShared {
  readonly host: string;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  readonly ejectMs: number;
  readonly pool: EndpointPool;
  readonly metrics: IngressMetrics;
  readonly logger: Logger;
  /** A client connected to `port`; its socket is paused. */
  accept(port: PublishedPort, socket: Socket): void;
}

/**
 * One published port on this node: its listener, the endpoints of the table applied last, and
 * the connections towards them not answered yet (which a table removing an endpoint waits for).
 */
export class PublishedPort {
  /** Replaced whole by each table: a connection choosing reads one table or the next. */
  addresses: readonly string[] = [];
  /** Why it cannot listen; undefined while it listens (or before it tried). */
  bindError: string | undefined;
  #server: Server | undefined;
  readonly #connecting = new Map<string, Set<Promise<void>>>();
  readonly context: ForwardContext;

  constructor(
    readonly published: number,
    public service: string,
    private readonly shared: PortShared,
  ) {
    this.context = this.#context();
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Listens on host:published; a failure is kept in bindError (and logged when it is news). */
  async listen(): Promise<void> {
    const { shared, published } = this;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      shared.accept(this, socket),
    );
    const error = await listenOn(server, shared.host, published);
    if (error !== undefined) {
      if (error !== this.bindError)
        shared.logger.warn({ service: this.service, published, error }, 'cannot listen on a published port');
      this.bindError = error;
      return;
    }
    server.on('error', (err) => shared.logger.warn({ err, published }, 'a published port listener failed'));
    this.#server = server;
    this.bindError = undefined;
    shared.logger.debug({ service: this.service, published }, 'listening on a published port');
  }

  /** Stops accepting and forgets the endpoints; resolves once its connections have all ended. */
  close(): Promise<void> {
    const server = this.#server;
    this.addresses = [];
    this.#server = undefined;
    if (!server) return Promise.resolve();
    this.shared.logger.debug({ service: this.service, published: this.published }, 'stopped listening');
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** The connections towards `addresses` still connecting or waiting for a first answer. */
  unansweredTo(addresses: readonly string[]): Array<Promise<void>> {
    return addresses.flatMap((a) => [...(this.#connecting.get(a) ?? [])]);
  }

  #context(): ForwardContext {
    const { pool, metrics, logger, connectTimeoutMs, maxAttempts, ejectMs } = this.shared;
    return {
      pool,
      connectTimeoutMs,
      maxAttempts,
      addresses: () => this.addresses,
      attempting: (address, settled) => {
        const connects = this.#connecting.get(address) ?? new Set();
        this.#connecting.set(address, connects.add(settled));
        void settled.then(() => {
          connects.delete(settled);
          if (connects.size === 0 && this.#connecting.get(address) === connects) this.#connecting.delete(address);
        });
      },
      failed: (endpoint, reason) => {
        if (!pool.eject(endpoint)) return;
        const { service, published } = this;
        metrics.ejection(service);
        logger.warn({ service, published, endpoint, reason, ejectMs }, 'endpoint failed, skipped for a while');
      },
      retried: () => metrics.retry(this.service),
      outcome: (outcome) => metrics.connection(this.service, outcome),
      bytes: (direction, count) => metrics.bytes(this.service, direction, count),
    };
  }
}
