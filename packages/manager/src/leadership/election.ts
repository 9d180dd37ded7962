/**
 * Exactly one manager leads (DESIGN 9): leadership is a key held with a short etcd lease (about
 * 1 s, kept alive at a third of it). Whoever creates the key leads; the others wait for it to go
 * and try again. The leader's writes are fenced with the key's create revision (store/etcd), and
 * a term ends — its components are told through its AbortSignal — when the lease is lost, when a
 * write finds it fenced, at shutdown (the lease is revoked, so a successor starts at once), or
 * when etcd has not renewed the lease for a TTL and a hold (holdMs: one more TTL, at most 3 s).
 *
 * Why hold: when etcd loses its own leader member, it answers nothing until it has elected
 * another (up to two of its election timeouts), and then extends every lease by a full TTL —
 * the lease was never at risk, and ending the term for it would be a failover for nothing. A
 * leader that cannot reach etcd also cannot write (every write goes to etcd, fenced), so holding
 * costs nothing in the state; and it ends its term, closing the workers' streams so they go to
 * a successor, long before a successor's grace for nodes (8 s) runs out.
 *
 * Like client-go's leaderelection: a lease and two callbacks; the etcd side is behind
 * ElectionStore (etcd-election.ts), so this is tested with a fake one and a fake clock.
 */
import type { Logger } from 'pino';
import type { Fence } from '../store/etcd/backend.js';

/** How long, beyond the TTL, a leader whose lease etcd has not renewed keeps its term: one more TTL, at most 3 s. */
export const holdMs = (ttlMs: number): number => Math.min(ttlMs, 3000);

/** Who leads: the manager's id and where it serves (gRPC for workers and CLIs, HTTP). */
export interface LeaderInfo {
  id: string;
  address: string;
  http: string;
}

/**
 * A leader's term: its fence (none for a single manager on LevelDB), since when it leads, and
 * the signal that ends it.
 */
export interface Term {
  fence?: Fence;
  since: number;
  signal: AbortSignal;
}

/** Who leads, and campaigning: an election on etcd, or a single manager that always leads. */
export interface Leadership {
  readonly leading: boolean;
  readonly leader: LeaderInfo | undefined;
  /** Why no manager leads ('' when one does): `no quorum: …`, an election. */
  readonly why: string;
  run(hooks: ElectionHooks, signal: AbortSignal): Promise<void>;
  stepDown(why: string): void;
}

/** A single manager (LevelDB): it leads from its start to its stop. */
export class SoleLeadership implements Leadership {
  #leading = false;
  readonly why = '';
  constructor(private readonly info: LeaderInfo) {}

  get leading(): boolean {
    return this.#leading;
  }
  get leader(): LeaderInfo {
    return this.info;
  }
  async run(hooks: ElectionHooks, signal: AbortSignal): Promise<void> {
    const term = new AbortController();
    this.#leading = true;
    hooks.lead({ since: Date.now(), signal: term.signal });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.#leading = false;
    term.abort();
  }
  stepDown(): void {}
}

export interface LeaseHandle {
  /** The TTL etcd granted (it may raise the one asked for). */
  readonly ttlMs: number;
  onRenewed(listener: () => void): void;
  onLost(listener: (reason: string) => void): void;
  revoke(): Promise<void>;
}

export type Campaign = { won: true; fence: Fence } | { won: false; leader: LeaderInfo | undefined };

/** The etcd operations an election needs. */
export interface ElectionStore {
  grant(ttlSec: number): Promise<LeaseHandle>;
  /** Creates the leadership key with `info`, held by `lease`, unless another holds it. */
  campaign(info: LeaderInfo, lease: LeaseHandle): Promise<Campaign>;
  /** Resolves when the leadership key changed (or `signal` aborts). */
  changed(signal: AbortSignal): Promise<void>;
}

export interface ElectionHooks {
  /** This manager leads from now on, until `term.signal` aborts. */
  lead(term: Term): void;
  /** Another manager leads (`leader`), or none is known (`why` says why: no quorum, an election). */
  follow(leader: LeaderInfo | undefined, why: string): void;
}

export interface ElectionOptions {
  ttlSec: number;
  logger: Logger;
  /** How long to wait before trying again after etcd did not answer; default 250 ms. */
  retryMs?: number;
}

export class Election implements Leadership {
  #leader: LeaderInfo | undefined;
  #end: ((why: string) => void) | undefined;
  #why = 'an election is under way';

  constructor(
    private readonly store: ElectionStore,
    private readonly info: LeaderInfo,
    private readonly options: ElectionOptions,
  ) {}

  /** Whether this manager leads now. */
  get leading(): boolean {
    return this.#end !== undefined;
  }

  /** The leader as last known (this manager when it leads); undefined during an election or without quorum. */
  get leader(): LeaderInfo | undefined {
    return this.#leader;
  }

  get why(): string {
    return this.#leader ? '' : this.#why;
  }

  /** Ends the current term now (a write found this manager fenced). */
  stepDown(why: string): void {
    this.#end?.(why);
  }

  /** Campaigns, leads and follows until `signal` aborts. */
  async run(hooks: ElectionHooks, signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    const retry = (): Promise<void> => delay(this.options.retryMs ?? 250, signal);
    while (!signal.aborted) {
      let lease: LeaseHandle;
      try {
        lease = await this.store.grant(this.options.ttlSec);
      } catch (err) {
        this.#follow(hooks, undefined, `no quorum: etcd does not grant a lease (${(err as Error).message})`);
        await retry();
        continue;
      }
      let campaign: Campaign;
      try {
        campaign = await this.store.campaign(this.info, lease);
      } catch (err) {
        await lease.revoke().catch(() => undefined);
        this.#follow(hooks, undefined, `no quorum: etcd does not answer (${(err as Error).message})`);
        await retry();
        continue;
      }
      if (campaign.won) {
        await this.#lead(campaign.fence, lease, hooks, signal);
        continue;
      }
      await lease.revoke().catch(() => undefined);
      this.#follow(hooks, campaign.leader, campaign.leader ? 'another manager leads' : 'an election is under way');
      try {
        await this.store.changed(signal);
      } catch (err) {
        logger.debug({ reason: (err as Error).message }, 'watching the leadership key failed');
        await retry();
      }
    }
  }

  #follow(hooks: ElectionHooks, leader: LeaderInfo | undefined, why: string): void {
    const before = this.#leader;
    this.#leader = leader;
    this.#why = why;
    if (before?.id !== leader?.id || leader === undefined) hooks.follow(leader, why);
  }

  /** One term: from winning until the lease is lost or not renewed, a fence fails, or shutdown. */
  async #lead(fence: Fence, lease: LeaseHandle, hooks: ElectionHooks, signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    const abort = new AbortController();
    let renewedAt = Date.now();
    let why = '';
    const ended = new Promise<void>((resolve) => {
      this.#end = (reason: string) => {
        if (why) return;
        why = reason;
        resolve();
      };
    });
    const end = this.#end!;
    lease.onRenewed(() => (renewedAt = Date.now()));
    lease.onLost((reason) => end(`the leadership lease was lost: ${reason}`));
    // Silent for a TTL and a hold: etcd is gone for this manager, not just electing a leader of its own.
    const check = setInterval(
      () => {
        const silent = Date.now() - renewedAt;
        if (silent >= lease.ttlMs + holdMs(lease.ttlMs)) end(`the leadership lease was not renewed for ${silent} ms`);
      },
      Math.max(10, Math.min(100, lease.ttlMs / 10)),
    );
    const onShutdown = (): void => end('shutting down');
    signal.addEventListener('abort', onShutdown, { once: true });
    this.#leader = this.info;
    logger.info({ revision: fence.revision, ttlMs: lease.ttlMs }, 'leading');
    hooks.lead({ fence, since: Date.now(), signal: abort.signal });
    await ended;
    clearInterval(check);
    signal.removeEventListener('abort', onShutdown);
    this.#end = undefined;
    this.#leader = undefined;
    this.#why = why;
    abort.abort();
    logger.warn({ reason: why }, 'stopped leading');
    // Handing over: the key goes with the lease, and a follower campaigns at once.
    await lease.revoke().catch(() => undefined);
    if (!signal.aborted) hooks.follow(undefined, why);
  }
}

/** Waits `ms` (the global timer, so that tests can drive it with a fake clock), or until `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
