import type { Logger } from 'pino';
import { servedTargets, type Service, type Task } from '@warren/core';
import type { wire } from '@warren/api';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { StoreView } from '../store/store.js';
import type { BindError } from './bind-errors.js';
import { endpointTasks } from './endpoints.js';

const EMPTY = { full: false, tasks: [], removedTaskIds: [], auths: [], imageQueries: [] };

/** What a node's proxy last confirmed, and the ports it cannot listen on. */
interface NodeAck {
  version: number;
  bindErrors: BindError[];
}

interface Waiter {
  version: number;
  resolve: () => void;
}

/**
 * The cluster's ingress table: every published port and its endpoints — tasks that run, are
 * ready, are not being stopped, and whose node is up — as one versioned whole sent to every
 * worker's proxy. Workers acknowledge the versions they apply; `confirmed` waits until every
 * connected proxy has applied a version, which is what lets a stop wait for its drain.
 */
export class IngressTables {
  #version = 0;
  #body = '';
  #table: wire.IngressTable = { version: 0, services: [] };
  /** When each version was sent, for the lag metrics (the last few hundred). */
  readonly #sentAt = new Map<number, number>();
  readonly #acks = new Map<string, NodeAck>();
  #waiters: Waiter[] = [];
  #scheduled = false;
  /** Seconds from a version's broadcast to a node's ack, for the metrics. */
  onAck?: (seconds: number) => void;

  constructor(
    private readonly store: StoreView,
    private readonly sessions: NodeSessions,
    private readonly now: () => number,
    private readonly logger: Logger,
    /**
     * Until then (the manager just started), a node the store has as ready counts as up though
     * its worker has not reconnected yet: a new manager must not empty the proxies' tables.
     */
    private graceUntil = 0,
  ) {
    if (graceUntil > now()) setTimeout(() => this.schedule(), graceUntil - now() + 10).unref();
    // Versions only move forward at the workers, across manager restarts too: start past any
    // version an earlier run of this manager can have sent (a thousand per millisecond).
    this.#version = now() * 1000;
    this.#table = { version: this.#version, services: [] };
  }

  get version(): number {
    return this.#version;
  }

  /** The current table, as sent to a worker that connects. */
  get table(): wire.IngressTable {
    return this.#table;
  }

  /** Recomputes soon (coalesced): after commits, when nodes come and go. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.recompute();
    });
  }

  /** Recomputes now; a table that changed gets the next version and goes to every worker. */
  recompute(): number {
    const services = this.#build();
    const body = JSON.stringify(services);
    if (body === this.#body) return this.#version;
    this.#body = body;
    this.#version++;
    this.#table = { version: this.#version, services };
    const at = this.now();
    this.#sentAt.set(this.#version, at);
    if (this.#sentAt.size > 500) this.#sentAt.delete(this.#version - 500);
    this.sessions.broadcast({ ...EMPTY, ingress: this.#table });
    this.#settle();
    return this.#version;
  }

  /** A worker's proxy applied `version`. Older news than what it said before is ignored. */
  ack(nodeId: string, version: number, bindErrors: NodeAck['bindErrors']): void {
    if (version > this.#version)
      throw new RangeError(`version ${version} was never sent (the newest is ${this.#version})`);
    const previous = this.#acks.get(nodeId);
    if (previous && previous.version > version) return;
    const sent = this.#sentAt.get(version);
    if (sent !== undefined && previous?.version !== version) this.onAck?.((this.now() - sent) / 1000);
    const words = (errors: readonly BindError[]): string => errors.map((e) => this.#bindErrorWords(e)).join('; ');
    const before = previous ? words(previous.bindErrors) : '';
    const after = words(bindErrors);
    if (after !== before) {
      const name = this.store.node(nodeId)?.name ?? nodeId;
      if (after) this.logger.warn({ node: name, problems: after }, 'a proxy cannot listen on ports it serves');
      else this.logger.info({ node: name }, 'a proxy listens on every port it serves again');
    }
    this.#acks.set(nodeId, { version, bindErrors });
    this.#settle();
  }

  /** A node's stream closed or opened: who must confirm has changed. */
  nodeChanged(): void {
    this.schedule();
    this.#settle();
  }

  /**
   * Resolves true once every connected worker's proxy has applied `version` (or a newer one),
   * false after `timeoutMs`.
   */
  confirmed(version: number, timeoutMs: number): Promise<boolean> {
    if (this.#allAcked(version)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter: Waiter = {
        version,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** `8080: …`, or `api:5432 by name: …`. */
  #bindErrorWords(e: BindError): string {
    if (e.published > 0) return `${e.published}: ${e.error}`;
    const service = this.store.service(e.serviceId ?? '')?.spec.name ?? e.serviceId;
    return `${service}:${e.namePort} by name: ${e.error}`;
  }

  /** Connected nodes whose proxy cannot listen on one of `service`'s published ports or its name's. */
  problems(service: Pick<Service, 'id' | 'spec'>): wire.IngressProblemOut[] {
    const published = service.spec.ports.map((p) => p.published);
    const problems: wire.IngressProblemOut[] = [];
    for (const [nodeId, ack] of this.#acks) {
      if (!this.sessions.isReady(nodeId)) continue;
      for (const e of ack.bindErrors) {
        const ours = e.published > 0 ? published.includes(e.published) : e.serviceId === service.id;
        if (!ours) continue;
        const nodeName = this.store.node(nodeId)?.name ?? '';
        problems.push({ nodeId, nodeName, published: e.published, namePort: e.namePort ?? 0, error: e.error });
      }
    }
    return problems;
  }

  /** Per connected node: versions behind, and for how long its oldest unconfirmed one was sent. */
  lag(): Array<{ node: string; versions: number; seconds: number }> {
    return this.sessions.connectedIds().map((nodeId) => {
      const node = this.store.node(nodeId)?.name ?? nodeId;
      const acked = this.#acks.get(nodeId)?.version;
      // Not confirmed anything yet (it just connected): one table behind, not a count of versions.
      if (acked === undefined) return { node, versions: 1, seconds: 0 };
      const next = [...this.#sentAt.keys()].find((v) => v > acked);
      const sent = acked < this.#version && next !== undefined ? this.#sentAt.get(next) : undefined;
      const seconds = sent === undefined ? 0 : (this.now() - sent) / 1000;
      return { node, versions: this.#version - acked, seconds };
    });
  }

  /** Every ready node's proxy applied `version`; a node that stopped heartbeating is not waited for. */
  #allAcked(version: number): boolean {
    return this.sessions
      .connectedIds()
      .filter((id) => this.sessions.isReady(id))
      .every((id) => (this.#acks.get(id)?.version ?? 0) >= version);
  }

  /**
   * A new term (a manager that takes over leading): nodes the store has as ready count as up
   * until `until` while their workers come over, and versions move past any sent before.
   */
  restartGrace(until: number): void {
    this.graceUntil = until;
    this.#version = Math.max(this.#version, this.now() * 1000);
    if (until > this.now()) setTimeout(() => this.schedule(), until - this.now() + 10).unref();
    this.schedule();
  }

  #inGrace(nodeId: string): boolean {
    return this.now() < this.graceUntil && this.store.node(nodeId)?.status === 'ready';
  }

  /** Whether the grace after the manager's start is still on. */
  get inGrace(): boolean {
    return this.now() < this.graceUntil;
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const done = this.#waiters.filter((w) => this.#allAcked(w.version));
    if (done.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !done.includes(w));
    for (const w of done) w.resolve();
  }

  /** Every service that serves ports: its published ones, then the ones served by name only. */
  #build(): wire.IngressService[] {
    const served = [...this.store.services()].filter((s) => servedTargets(s.spec).length > 0);
    served.sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
    const aliases = shortNames([...this.store.services()].map((s) => s.spec));
    return served.map((service) => {
      const tasks = endpointTasks(this.store, service, this.nodeUp);
      const published = service.spec.ports.map((p) => ({ published: p.published, target: p.target }));
      const byName = (service.spec.expose ?? []).filter((target) => !published.some((p) => p.target === target));
      return {
        serviceId: service.id,
        name: service.spec.name,
        aliases: aliases.get(service.spec.name) ?? [],
        ports: [...published, ...byName.map((target) => ({ published: 0, target }))].map((p) => ({
          ...p,
          endpoints: this.#endpoints(service, tasks, p.target),
        })),
      };
    });
  }

  #endpoints(service: Service, tasks: readonly Task[], target: number): wire.IngressEndpoint[] {
    return tasks.flatMap((t) => {
      const port = t.ports?.find((p) => p.target === target);
      if (!port) return [];
      // On the default bridge the host reaches the container itself: its own node's proxy
      // skips Docker's port forwarding (docker-proxy) and connects there.
      const local = t.spec.network === 'bridge' && t.address !== '' ? `${t.address}:${target}` : '';
      const containerAddress = t.spec.network !== 'host' ? t.address : '';
      return [{ taskId: t.id, nodeId: t.nodeId, address: port.address, localAddress: local, containerAddress }];
    });
  }

  /**
   * A node is up while its worker is connected (or in the grace after a manager start) and the
   * monitor has not declared it down. A worker restarting quickly is not a node going down: its
   * containers keep serving, so its stream may be closed for a moment.
   */
  readonly nodeUp = (nodeId: string): boolean =>
    (this.sessions.isAlive(nodeId) || this.#inGrace(nodeId)) && this.store.node(nodeId)?.status !== 'down';
}

/**
 * A stack's services by their short names, as Swarm's stack networks alias them (`api` for
 * `shop_api`): only a name no service has and no other stack's service shortens to.
 */
function shortNames(specs: ReadonlyArray<{ name: string; stack?: string }>): Map<string, string[]> {
  const names = new Set(specs.map((s) => s.name.toLowerCase()));
  const byShort = new Map<string, string[]>();
  for (const { name, stack } of specs) {
    if (!stack || !name.startsWith(`${stack}_`)) continue;
    const short = name.slice(stack.length + 1);
    byShort.set(short.toLowerCase(), [...(byShort.get(short.toLowerCase()) ?? []), name]);
  }
  const aliases = new Map<string, string[]>();
  for (const [short, owners] of byShort) {
    if (owners.length === 1 && !names.has(short)) aliases.set(owners[0]!, [short]);
  }
  return aliases;
}
