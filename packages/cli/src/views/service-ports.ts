/** Published ports in the service views: the spec's ports, where each endpoint takes them, ingress problems. */
import { ingressProblemWords, servedTargets, type PublishedPort, type ServiceSpec } from '@warren/core';
import type { wire } from '@warren/api';
import { columns, shortId } from '../output.js';

/** Where one published port of an endpoint goes: its node's address and host port, or null (not reported). */
export interface EndpointPort {
  published: number;
  target: number;
  address: string | null;
}

/** `8080 → 80/tcp`, one line per published port; '' when there is none. */
export function portsText(ports: readonly PublishedPort[]): string {
  return ports.map((p) => `${p.published} → ${p.target}/${p.protocol}`).join('\n');
}

/**
 * What the service's name serves: `api:80, api:8080 (its virtual IP on each node); tasks.api:
 * its ready tasks on the asking task's node`.
 */
export function namesText(spec: Pick<ServiceSpec, 'name' | 'ports' | 'expose'>): string {
  const ports = servedTargets(spec)
    .map((p) => `${spec.name}:${p}`)
    .join(', ');
  return `${ports} (a virtual IP on each node, to ready tasks); tasks.${spec.name}: its ready tasks on the same node`;
}

/** `*:8080->80/tcp, *:8443->443/tcp`, as `docker service ls` shows them. */
export function portsColumn(ports: readonly PublishedPort[]): string {
  return ports.map((p) => `*:${p.published}->${p.target}/${p.protocol}`).join(', ');
}

/** Each published port of the spec with the address its connections go to on this endpoint. */
export function endpointPorts(spec: ServiceSpec, endpoint: wire.EndpointOut): EndpointPort[] {
  return spec.ports.map((p) => ({
    published: p.published,
    target: p.target,
    address: endpoint.ports.find((t) => t.target === p.target)?.address || null,
  }));
}

/**
 * The value of `Endpoints:`. Without published ports, the ready tasks' addresses on one line;
 * with them, one line per endpoint: `slot 2  node w1  172.17.0.3  8080 → 127.0.0.2:49153`.
 */
export function endpointsText(spec: ServiceSpec, endpoints: readonly wire.EndpointOut[]): string {
  if (endpoints.length === 0) return '(none ready)';
  if (spec.ports.length === 0) return endpoints.map((e) => e.address).join(', ');
  const rows = [...endpoints]
    .sort((a, b) => a.slot - b.slot)
    .map((e) => [
      `slot ${e.slot}`,
      `node ${e.nodeName || shortId(e.nodeId)}`,
      e.address || '-',
      endpointPorts(spec, e)
        .map((p) => `${p.published} → ${p.address ?? '(no host port yet)'}`)
        .join(', '),
    ]);
  return columns(rows).join('\n');
}

/**
 * `Ingress problems:` and a line per node that cannot listen on a published port or a port the
 * service serves by name; '' when none.
 */
export function ingressProblemsText(problems: readonly wire.IngressProblemOut[]): string {
  if (problems.length === 0) return '';
  const lines = problems.map((p) => `  ${ingressProblemWords({ ...p, node: p.nodeName || shortId(p.nodeId) })}`);
  return `Ingress problems:\n${lines.join('\n')}\n`;
}
