import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConnectionOutcome } from './connection.js';

/** What the proxy counts, by service name (bounded: the cluster's published services). */
export interface IngressMetrics {
  connection(service: string, outcome: ConnectionOutcome): void;
  /** One more (+1) or one fewer (-1) client connection open. */
  active(service: string, delta: 1 | -1): void;
  bytes(service: string, direction: 'in' | 'out', count: number): void;
  retry(service: string): void;
  ejection(service: string): void;
  tableVersion(version: number): void;
}

const NONE: IngressMetrics = {
  connection: () => undefined,
  active: () => undefined,
  bytes: () => undefined,
  retry: () => undefined,
  ejection: () => undefined,
  tableVersion: () => undefined,
};

/**
 * The proxy's metrics in `registry`; nothing is counted without one. Counting happens on every
 * chunk of every connection, so it only adds to plain numbers; prom-client reads them when
 * scraped.
 */
export function ingressMetrics(registry: Registry | undefined): IngressMetrics {
  if (!registry) return NONE;
  const registers = [registry];
  const counts = {
    connections: new Tally(),
    active: new Tally(),
    bytes: new Tally(),
    retries: new Tally(),
    ejections: new Tally(),
  };
  const counter = (name: string, help: string, tally: Tally, labelNames: string[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of tally.entries(labelNames)) this.inc(labels, value);
      },
    });
  counter(
    'warren_ingress_connections_total',
    'Client connections to published ports, by service and outcome (forwarded, no_endpoint, failed)',
    counts.connections,
    ['service', 'outcome'],
  );
  new Gauge({
    name: 'warren_ingress_active_connections',
    help: 'Client connections to published ports open now, by service',
    labelNames: ['service'],
    registers,
    collect() {
      this.reset();
      for (const [labels, value] of counts.active.entries(['service'])) this.set(labels, value);
    },
  });
  counter(
    'warren_ingress_bytes_total',
    'Bytes through the ingress proxy, by service and direction (in: client to endpoint, out: back)',
    counts.bytes,
    ['service', 'direction'],
  );
  counter(
    'warren_ingress_retries_total',
    'Connections tried again on another endpoint after one failed, by service',
    counts.retries,
    ['service'],
  );
  counter(
    'warren_ingress_ejections_total',
    'Endpoints set aside after a failed connection, by service',
    counts.ejections,
    ['service'],
  );
  let tableVersion = 0;
  new Gauge({
    name: 'warren_ingress_table_version',
    help: 'The version of the ingress table the proxy applied last',
    registers,
    collect() {
      this.set(tableVersion);
    },
  });
  return {
    connection: (service, outcome) => counts.connections.add(`${service}\0${outcome}`, 1),
    active: (service, delta) => counts.active.add(service, delta),
    bytes: (service, direction, count) => counts.bytes.add(`${service}\0${direction}`, count),
    retry: (service) => counts.retries.add(service, 1),
    ejection: (service) => counts.ejections.add(service, 1),
    tableVersion: (v) => (tableVersion = v),
  };
}

/** Numbers by label values (joined with NUL), added to on the hot path. */
class Tally {
  readonly #values = new Map<string, number>();

  add(key: string, n: number): void {
    this.#values.set(key, (this.#values.get(key) ?? 0) + n);
  }

  *entries(labelNames: readonly string[]): Generator<[Record<string, string>, number]> {
    for (const [key, value] of this.#values) {
      const parts = key.split('\0');
      yield [Object.fromEntries(labelNames.map((name, i) => [name, parts[i] ?? ''])), value];
    }
  }
}
