import type { wire } from '@warren/api';

/** One ready endpoint of a published port: a task's `host:port`, possibly on another node. */
export interface IngressEndpoint {
  taskId: string;
  nodeId: string;
  /** `host:port` (`[v6]:port` for an IPv6 host). */
  address: string;
  /** The container's IP on its network ('' on the host network): `tasks.NAME` on its own node. */
  containerAddress?: string;
}

export interface IngressPort {
  /** The port every worker's proxy listens on; 0 for a port served by name only (`--expose`). */
  published: number;
  /** The container's port the endpoints map to. */
  target: number;
  endpoints: IngressEndpoint[];
}

export interface IngressServiceEntry {
  serviceId: string;
  name: string;
  ports: IngressPort[];
  /** The service's virtual IP on this node, where the proxy serves its ports by name. */
  vip?: string;
  /** Other names it answers to: a stack's service by its short name (`api` for `shop_api`). */
  aliases?: string[];
}

/** Every published port of the cluster and its ready endpoints, as the manager sent them. */
export interface IngressTable {
  /** Increases with every change; the proxy acknowledges the version it applied. */
  version: number;
  services: IngressServiceEntry[];
  /**
   * The first table of an assignment stream: applied whatever its version, since a manager
   * that restarted (its clock set back, say) numbers its tables anew.
   */
  baseline?: boolean;
}

/**
 * The table as this node's proxy uses it. `nodeId`: this node; its own endpoints that have a
 * container address (tasks on the default bridge) are reached there, skipping Docker's port
 * forwarding (docker-proxy); every other endpoint at its node's address and host port.
 */
export function ingressTableFromWire(w: wire.IngressTableOut, nodeId = ''): IngressTable {
  const address = (e: wire.IngressTableOut['services'][number]['ports'][number]['endpoints'][number]): string =>
    nodeId !== '' && e.nodeId === nodeId && e.localAddress ? e.localAddress : e.address;
  return {
    version: Number(w.version),
    services: w.services.map((s) => ({
      serviceId: s.serviceId,
      name: s.name,
      ...(s.aliases.length > 0 ? { aliases: s.aliases } : {}),
      ports: s.ports.map((p) => ({
        published: p.published,
        target: p.target,
        endpoints: p.endpoints.map((e) => ({
          taskId: e.taskId,
          nodeId: e.nodeId,
          address: address(e),
          containerAddress: e.containerAddress,
        })),
      })),
    })),
  };
}
