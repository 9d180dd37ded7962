import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DnsServer } from '../dns/server.js';
import type { IngressTable } from '../ingress/table.js';
import { addLocalRoute, removeLocalRoute } from './local-route.js';
import { NameRecords } from './records.js';
import { networkInterfaces } from 'node:os';
import { inRange, type VipRange } from '@warren/core';
import { VipAllocator } from './vip-range.js';

export interface NameServiceOptions {
  range: VipRange;
  /** Where names that are not services go (`ip` or `ip:port`); default the host's resolvers. */
  upstreams?: string[];
  logger: Logger;
  registry?: Registry;
}

/**
 * Service discovery on this node: a virtual IP per service that serves ports (the proxy listens
 * on it) and a DNS server the node's containers use, answering `NAME` and `tasks.NAME` from the
 * table the proxy applied and forwarding every other name upstream. When the range cannot be
 * made local or the DNS server cannot listen, names are off on this node (said in the log and
 * in /health) and containers keep Docker's resolvers.
 */
export class NameService {
  readonly #allocator: VipAllocator;
  readonly #records = new NameRecords();
  readonly #dns: DnsServer;
  #problem = 'not started';
  /** This worker made the range's route: it removes it when it stops. */
  #routed = false;

  constructor(private readonly options: NameServiceOptions) {
    this.#allocator = new VipAllocator(options.range);
    this.#dns = new DnsServer({
      host: options.range.dnsAddress,
      ...(options.upstreams ? { upstreams: options.upstreams } : {}),
      resolve: (name) => this.#records.resolve(name),
      logger: options.logger,
      ...(options.registry ? { registry: options.registry } : {}),
    });
  }

  /** Makes the range local and starts the DNS server; a failure turns names off, never throws. */
  async start(): Promise<void> {
    const { range, logger } = this.options;
    try {
      const taken = hostAddressIn(range.cidr);
      if (taken) throw new Error(`${range.cidr} holds ${taken}: making it local would cut this host off that network`);
      this.#routed = await addLocalRoute(range.cidr);
      await this.#dns.start();
      this.#problem = '';
      logger.debug({ dns: range.dnsAddress, vipRange: range.cidr }, 'service names served');
    } catch (err) {
      this.#problem = (err as Error).message;
      logger.error({ reason: this.#problem }, 'service names are off on this node');
      await this.#release();
    }
  }

  /** Why names are off on this node; '' while they are served. */
  get problem(): string {
    return this.#problem;
  }

  /** The DNS server the node's containers get; undefined while names are off. */
  get dnsAddress(): string | undefined {
    return this.#problem ? undefined : this.options.range.dnsAddress;
  }

  /** `table` with each service's virtual IP on this node (unchanged while names are off). */
  withVips(table: IngressTable): IngressTable {
    if (this.#problem) return table;
    const vips = this.#allocator.assign(table.services.map((s) => s.serviceId));
    const full = table.services.filter((s) => vips.get(s.serviceId) === undefined).map((s) => s.name);
    if (full.length > 0)
      this.options.logger.warn({ services: full, vipRange: this.options.range.cidr }, 'no virtual IP left for');
    return {
      ...table,
      services: table.services.map((s) => {
        const vip = vips.get(s.serviceId);
        return vip ? { ...s, vip } : s;
      }),
    };
  }

  /** The proxy applied `table`: the names follow it. */
  applied(table: IngressTable, nodeId: string, failingVips: ReadonlySet<string>): void {
    this.#records.update(table, nodeId, failingVips);
  }

  async stop(): Promise<void> {
    this.#problem ||= 'stopped';
    await this.#release();
  }

  async #release(): Promise<void> {
    await this.#dns.stop();
    if (this.#routed) await removeLocalRoute(this.options.range.cidr);
    this.#routed = false;
  }
}

/** An address of this host's interfaces in `cidr` (`10.0.0.5 (eth0)`), if any. */
function hostAddressIn(cidr: string): string | undefined {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    for (const a of addresses ?? [])
      if (a.family === 'IPv4' && inRange(a.address, cidr)) return `${a.address} (${name})`;
  }
  return undefined;
}
