import type { Logger } from 'pino';
import { joinHostPort } from './listen.js';
import type { IngressTable } from './table.js';

export interface WantedRoute {
  service: string;
  addresses: string[];
}

export interface WantedListener {
  host: string;
  port: number;
  service: string;
  serviceId: string;
  /** The published port it listens for; 0 for a virtual IP's. */
  published: number;
  /** A wildcard listener that also receives virtual IPs' connections: routed by the address reached. */
  byAddress?: boolean;
}

/** Listen addresses that receive every local address, virtual IPs included. */
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/**
 * The routes of `table` and the listeners they need, for a proxy listening on `host`: each
 * published port on `host` (route `*:published`), each target of a service's virtual IP on that
 * IP (route `vip:target`) — unless a wildcard listener of the same port receives it already,
 * since a specific address cannot listen on a port the wildcard holds (EADDRINUSE).
 */
export function plan(
  table: IngressTable,
  host: string,
  logger: Logger,
): { routes: Map<string, WantedRoute>; listeners: Map<string, WantedListener> } {
  const routes = new Map<string, WantedRoute>();
  const listeners = new Map<string, WantedListener>();
  for (const service of table.services) {
    for (const { published, target, endpoints } of service.ports) {
      const wanted = { service: service.name, addresses: [...new Set(endpoints.map((e) => e.address))] };
      if (published > 0) {
        const taken = routes.get(`*:${published}`);
        if (taken) {
          const services = [taken.service, service.name];
          logger.warn({ published, services }, 'two services publish one port; the first one has it');
        } else {
          routes.set(`*:${published}`, wanted);
          const { name, serviceId } = service;
          listeners.set(joinHostPort(host, published), { host, port: published, service: name, serviceId, published });
        }
      }
      const vipKey = service.vip ? joinHostPort(service.vip, target) : '';
      if (vipKey && !routes.has(vipKey)) routes.set(vipKey, wanted);
    }
  }
  const wildcard = WILDCARDS.has(host);
  // A wildcard listener also receives connections to virtual IPs: to one that serves its port
  // (routed there), or to one that does not (refused, not sent to the published service).
  const vips = table.services.some((s) => s.vip);
  if (wildcard && vips) for (const listener of listeners.values()) listener.byAddress = true;
  for (const service of table.services) {
    if (!service.vip) continue;
    for (const target of new Set(service.ports.map((p) => p.target))) {
      if (wildcard && routes.has(`*:${target}`)) continue;
      const wanted = {
        host: service.vip,
        port: target,
        service: service.name,
        serviceId: service.serviceId,
        published: 0,
      };
      listeners.set(joinHostPort(service.vip, target), wanted);
    }
  }
  return { routes, listeners };
}
