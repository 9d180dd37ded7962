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

/** The proxy's metrics in `registry`; nothing is counted without one. */
export function ingressMetrics(registry: Registry | undefined): IngressMetrics {
  if (!registry) return NONE;
  const registers = [registry];
  const connections = new Counter({
    name: 'warren_ingress_connections_total',
    help: 'Client connections to published ports, by service and outcome (forwarded, no_endpoint, failed)',
    labelNames: ['service', 'outcome'] as const,
    registers,
  });
  const active = new Gauge({
    name: 'warren_ingress_active_connections',
    help: 'Client connections to published ports open now, by service',
    labelNames: ['service'] as const,
    registers,
  });
  const bytes = new Counter({
    name: 'warren_ingress_bytes_total',
    help: 'Bytes through the ingress proxy, by service and direction (in: client to endpoint, out: back)',
    labelNames: ['service', 'direction'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'warren_ingress_retries_total',
    help: 'Connections tried again on another endpoint after one failed, by service',
    labelNames: ['service'] as const,
    registers,
  });
  const ejections = new Counter({
    name: 'warren_ingress_ejections_total',
    help: 'Endpoints set aside after a failed connection, by service',
    labelNames: ['service'] as const,
    registers,
  });
  const version = new Gauge({
    name: 'warren_ingress_table_version',
    help: 'The version of the ingress table the proxy applied last',
    registers,
  });
  return {
    connection: (service, outcome) => connections.inc({ service, outcome }),
    active: (service, delta) => active.inc({ service }, delta),
    bytes: (service, direction, count) => bytes.inc({ service, direction }, count),
    retry: (service) => retries.inc({ service }),
    ejection: (service) => ejections.inc({ service }),
    tableVersion: (v) => version.set(v),
  };
}
