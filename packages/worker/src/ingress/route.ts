import type { Logger } from 'pino';
import type { ForwardContext } from './connection.js';
import type { IngressMetrics } from './metrics.js';
import type { EndpointPool } from './pool.js';

/** What every route of one proxy shares. */
export interface RouteShared {
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  readonly ejectMs: number;
  readonly pool: EndpointPool;
  readonly metrics: IngressMetrics;
  readonly logger: Logger;
}

/**
 * Where the connections of one address lead: a published port (`*:8080`, on every address the
 * proxy listens on) or a service's virtual IP and target (`198.18.0.2:80`, by name). It holds the
 * endpoints of the table applied last and the connections towards them not answered yet, which a
 * table removing an endpoint waits for.
 */
export class Route {
  /** Replaced whole by each table: a connection choosing reads one table or the next. */
  addresses: readonly string[] = [];
  readonly #connecting = new Map<string, Set<Promise<void>>>();
  readonly context: ForwardContext;

  constructor(
    /** `*:published` or `vip:target`. */
    readonly key: string,
    public service: string,
    private readonly shared: RouteShared,
  ) {
    this.context = this.#context();
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
        const { service, key } = this;
        metrics.ejection(service);
        logger.warn({ service, route: key, endpoint, reason, ejectMs }, 'endpoint failed, skipped for a while');
      },
      retried: () => metrics.retry(this.service),
      outcome: (outcome) => metrics.connection(this.service, outcome),
      bytes: (direction, count) => metrics.bytes(this.service, direction, count),
    };
  }
}
