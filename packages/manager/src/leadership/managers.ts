/**
 * The managers of a cluster, for `warren manager ls`, `node ls` and the status page: each manager
 * keeps a key of its own in etcd (`<prefix>managers/<id>`, held by a lease, so a manager that is
 * gone drops out), which one leads comes from the election, and etcd's members say how they are.
 * A single manager on LevelDB is its own list.
 */
import { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { wire } from '@warren/api';
import type { LeadershipView } from './gates.js';
import type { LeaderInfo } from './election.js';

/** How long a manager's key outlives it (its lease). */
const MEMBER_TTL_SEC = 5;
const CALL_TIMEOUT_MS = 1500;

export interface Self extends LeaderInfo {
  startedAt: number;
}

export class ManagerRegistry {
  constructor(
    private readonly self: Self,
    private readonly leadership: LeadershipView,
    private readonly etcd: { client: Etcd3; prefix: string; endpoints: string[] } | undefined,
    private readonly logger: Logger,
  ) {}

  /** Keeps this manager's key in etcd until `signal` aborts (again whenever its lease was lost). */
  async register(signal: AbortSignal): Promise<void> {
    const etcd = this.etcd;
    if (!etcd) return;
    const key = `${etcd.prefix}managers/${this.self.id}`;
    while (!signal.aborted) {
      const lease = etcd.client.lease(MEMBER_TTL_SEC);
      try {
        await lease.put(key).value(JSON.stringify(this.self)).exec();
        await new Promise<void>((resolve) => {
          lease.on('lost', () => resolve());
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      } catch (err) {
        this.logger.debug({ reason: (err as Error).message }, 'cannot register this manager in etcd yet');
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        await lease.revoke().catch(() => undefined);
      }
    }
  }

  async list(): Promise<wire.ManagersInfo> {
    const leader = this.leadership.leader;
    const entry = (m: Self): wire.ManagerInfo => ({
      id: m.id,
      address: m.address,
      http: m.http,
      leader: leader?.id === m.id,
      startedAtMs: m.startedAt,
      self: m.id === this.self.id,
    });
    const etcd = this.etcd;
    if (!etcd) return { store: 'leveldb', managers: [entry(this.self)], etcd: [], quorum: true, message: '' };
    let managers: Self[] = [this.self];
    let quorum = true;
    let message = this.leadership.why;
    try {
      const all = await etcd.client.getAll().prefix(`${etcd.prefix}managers/`).json();
      managers = Object.values(all as Record<string, Self>);
      if (!managers.some((m) => m.id === this.self.id)) managers.push(this.self);
    } catch (err) {
      quorum = false;
      message = `no quorum: etcd answers no read (${(err as Error).message})`;
    }
    managers.sort((a, b) => a.id.localeCompare(b.id));
    return {
      store: 'etcd',
      managers: managers.map(entry),
      etcd: await this.#members(etcd.endpoints),
      quorum,
      message,
    };
  }

  /** Each etcd member as it answers on its own: healthy (it knows a leader), and etcd's leader. */
  async #members(endpoints: string[]): Promise<wire.EtcdMemberInfo[]> {
    return Promise.all(
      endpoints.map(async (endpoint): Promise<wire.EtcdMemberInfo> => {
        const client = new Etcd3({ hosts: `http://${endpoint}`, dialTimeout: CALL_TIMEOUT_MS });
        try {
          const status = await client.maintenance.status({ deadline: new Date(Date.now() + CALL_TIMEOUT_MS) });
          const known = status.leader !== '0';
          return {
            name: '',
            endpoint,
            healthy: known,
            leader: known && status.leader === status.header.member_id,
            message: known ? '' : 'no Raft leader: this member has lost its quorum',
          };
        } catch (err) {
          return { name: '', endpoint, healthy: false, leader: false, message: (err as Error).message };
        } finally {
          client.close();
        }
      }),
    );
  }
}
