/**
 * The managers a worker knows (`--manager a,b,c`) and the one it talks to (DESIGN 9): only the
 * leader takes a worker's calls; another manager answers UNAVAILABLE with the leader's address
 * (`warren-leader` in the trailers), and a manager that does not answer at all is passed over
 * for the next. Every part of the worker holds one client (`client`) that follows the switch.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { wire } from '@warren/api';

/** The trailer a follower names the leader in (manager: leadership/gates.ts). */
const LEADER_METADATA = 'warren-leader';
/** The trailer of a manager that says no manager leads (@warren/api errors.ts). */
const NO_LEADER_METADATA = 'warren-no-leader';

/** `a,b,c` → the addresses, in order. */
export function managerList(text: string): string[] {
  return text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
}

/** The leader a refused call names, if any. */
export function leaderNamed(err: unknown): string | undefined {
  const metadata = (err as { metadata?: grpc.Metadata } | undefined)?.metadata;
  const named = metadata?.get?.(LEADER_METADATA)?.[0];
  return typeof named === 'string' && named !== '' ? named : undefined;
}

/** A manager that did not answer is not tried again (even if another names it the leader) for this long. */
const UNREACHABLE_MS = 1000;

export class ManagerEndpoints {
  /** Managers that did not answer, until when they are passed over. */
  readonly #unreachable = new Map<string, number>();
  #address: string;
  #current: wire.WorkerServiceClient;
  /** One object for every part of the worker: its methods are the current client's. */
  readonly client: wire.WorkerServiceClient;

  constructor(
    private readonly addresses: readonly string[],
    private readonly connect: (address: string) => wire.WorkerServiceClient,
    private readonly logger: Logger,
  ) {
    this.#address = addresses[0]!;
    this.#current = connect(this.#address);
    this.client = new Proxy({} as wire.WorkerServiceClient, {
      get: (_target, prop) => {
        const value = (this.#current as unknown as Record<string | symbol, unknown>)[prop];
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(this.#current) : value;
      },
    });
  }

  /** The manager talked to now. */
  get address(): string {
    return this.#address;
  }

  /**
   * A call failed: to the leader the refusal names, or (the manager did not answer) to the next
   * manager of the list. Returns whether the worker now talks to another manager.
   */
  failed(err: unknown): boolean {
    const leader = leaderNamed(err);
    const now = Date.now();
    if (leader) {
      // A follower may still name a leader that just went away (until its lease runs out):
      // stay, and ask again after a pause.
      if ((this.#unreachable.get(leader) ?? 0) > now) return false;
      return this.#switch(leader, 'the leader');
    }
    const code = (err as { code?: number } | undefined)?.code;
    if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED) return false;
    this.#unreachable.set(this.#address, now + UNREACHABLE_MS);
    const from = this.addresses.indexOf(this.#address) + 1;
    const order = [...this.addresses.slice(from), ...this.addresses.slice(0, from)];
    const next = order.find((a) => a !== this.#address && (this.#unreachable.get(a) ?? 0) <= now);
    return next !== undefined && this.#switch(next, 'the next manager');
  }

  /**
   * Whether `err` says the managers are electing: none leads, or the one named is the leader that
   * just went away (a follower names it until its lease runs out). A leader comes within a lease.
   */
  electing(err: unknown): boolean {
    const leader = leaderNamed(err);
    if (leader) return (this.#unreachable.get(leader) ?? 0) > Date.now();
    const metadata = (err as { metadata?: grpc.Metadata } | undefined)?.metadata;
    return (metadata?.get?.(NO_LEADER_METADATA)?.length ?? 0) > 0;
  }

  #switch(address: string, why: string): boolean {
    if (address === this.#address) return false;
    this.logger.info({ from: this.#address, to: address, why }, 'talking to another manager');
    const old = this.#current;
    this.#address = address;
    this.#current = this.connect(address);
    old.close();
    return true;
  }

  close(): void {
    this.#current.close();
  }
}
