import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_VIP_RANGE, parseVipRange } from '@warren/core';
import type { wire } from '@warren/api';
import { IngressProxy, ingressTableFromWire, type IngressApplied } from './ingress/index.js';
import { NameService } from './names/index.js';
import type { WorkerOptions } from './worker-options.js';

/**
 * What leads clients from this node to the cluster's ready tasks: the proxy (published ports on
 * the ingress address, each service's ports on its virtual IP) and the names its containers
 * resolve (`NAME`, `tasks.NAME`). Both follow the manager's ingress table, in one step: the
 * names change once the proxy has applied a table, before the manager hears that it was.
 */
export class ServiceFront {
  readonly #proxy: IngressProxy;
  readonly #names: NameService;
  /** This node, as the last table was applied for. */
  #nodeId = '';

  constructor(
    options: Pick<WorkerOptions, 'ingressAddr' | 'vipRange' | 'dnsUpstreams'>,
    logger: Logger,
    registry: Registry,
    /** A port bound (or lost) between tables: the manager hears it with the same version. */
    onBindErrors: (applied: IngressApplied) => void,
  ) {
    const host = options.ingressAddr ?? '0.0.0.0';
    const rebound = (applied: IngressApplied): void => {
      this.#names.applied(this.#proxy.table, this.#nodeId, this.#proxy.failingVips);
      onBindErrors(applied);
    };
    const ingressLogger = logger.child({ component: 'ingress' });
    this.#proxy = new IngressProxy({ host, logger: ingressLogger, registry, onBindErrors: rebound });
    this.#names = new NameService({
      range: parseVipRange(options.vipRange ?? DEFAULT_VIP_RANGE),
      ...(options.dnsUpstreams?.length ? { upstreams: options.dnsUpstreams } : {}),
      logger: logger.child({ component: 'dns' }),
      registry,
    });
  }

  /** Serves the names (or says why not: names are off, the rest works). */
  start(): Promise<void> {
    return this.#names.start();
  }

  /** The DNS server of this node's containers; undefined while names are off. */
  get dns(): string | undefined {
    return this.#names.dnsAddress;
  }

  /** What /health says of the names. */
  names(): { dns: string | undefined; problem: string } {
    return { dns: this.#names.dnsAddress, problem: this.#names.problem };
  }

  /** Applies a table from the manager (`first`: of a new assignment stream); resolves with what to acknowledge. */
  async apply(table: wire.IngressTableOut, nodeId: string, first: boolean): Promise<IngressApplied> {
    this.#nodeId = nodeId;
    const named = this.#names.withVips({ ...ingressTableFromWire(table, nodeId), baseline: first });
    const applied = await this.#proxy.apply(named);
    this.#names.applied(this.#proxy.table, nodeId, this.#proxy.failingVips);
    return applied;
  }

  /** This node saw the task's container die: skipped at once (IngressProxy.ejectTask). */
  ejectTask(taskId: string): void {
    this.#proxy.ejectTask(taskId);
  }

  async stop(): Promise<void> {
    await this.#proxy.stop();
    await this.#names.stop();
  }
}
