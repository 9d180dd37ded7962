import type { IngressTable } from '../ingress/table.js';

/**
 * The names this node's DNS server answers, from the ingress table its proxy applied: `NAME`
 * → the service's virtual IP on this node, `tasks.NAME` → the container addresses of its ready
 * tasks on this node (the ones this node's containers can reach without the proxy). Names are
 * case-insensitive. Replaced whole with each table, so that an answer reads one table or the next.
 */
export class NameRecords {
  #names = new Map<string, readonly string[]>();

  /**
   * From `table`. `failingVips`: virtual IPs that cannot listen on one of their ports; their names
   * answer no address. Two services whose names differ only in case: the first (by name) has it.
   */
  update(table: IngressTable, nodeId: string, failingVips: ReadonlySet<string> = new Set()): void {
    const names = new Map<string, readonly string[]>();
    for (const service of table.services) {
      if (!service.vip) continue;
      const tasks = new Map<string, string>();
      for (const port of service.ports) {
        for (const e of port.endpoints)
          if (e.nodeId === nodeId && e.containerAddress) tasks.set(e.taskId, e.containerAddress);
      }
      for (const name of [service.name, ...(service.aliases ?? [])].map((n) => n.toLowerCase())) {
        if (names.has(name)) continue;
        names.set(name, failingVips.has(service.vip) ? [] : [service.vip]);
        names.set(`tasks.${name}`, [...new Set(tasks.values())]);
      }
    }
    this.#names = names;
  }

  /** The addresses of a name this node answers for; undefined for any other name. */
  resolve(name: string): readonly string[] | undefined {
    return this.#names.get(name.toLowerCase());
  }
}
