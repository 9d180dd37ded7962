/** The election's etcd side: a lease kept alive by the etcd3 client, and the leadership key. */
import type { Etcd3, Lease } from 'etcd3';
import type { Campaign, ElectionStore, LeaderInfo, LeaseHandle } from './election.js';

// Every call has a deadline of its own (store/etcd/connect.ts), each attempt on a member afresh.

export class EtcdElection implements ElectionStore {
  constructor(
    private readonly client: Etcd3,
    /** The leadership key, e.g. `warren/leader`. */
    readonly key: string,
  ) {}

  async grant(ttlSec: number): Promise<LeaseHandle> {
    const lease = this.client.lease(ttlSec);
    await lease.grant();
    // etcd may grant more than asked (at least 1.5 election timeouts of its own): keep alive at a third of that.
    const granted = await lease.keepaliveOnce();
    return handle(lease, Number(granted.TTL) * 1000);
  }

  async campaign(info: LeaderInfo, lease: LeaseHandle): Promise<Campaign> {
    const id = await (lease as EtcdLeaseHandle).lease.grant();
    const res = await this.client
      .if(this.key, 'Create', '==', 0)
      .then(this.client.put(this.key).value(JSON.stringify(info)).lease(id))
      .else(this.client.get(this.key))
      .commit();
    if (res.succeeded) return { won: true, fence: { key: this.key, revision: String(res.header.revision) } };
    const kv = res.responses[0]?.response_range?.kvs[0];
    return { won: false, leader: kv ? (JSON.parse(kv.value.toString()) as LeaderInfo) : undefined };
  }

  async changed(signal: AbortSignal): Promise<void> {
    const watcher = await this.client.watch().key(this.key).create();
    try {
      // The key may have gone between the campaign and the watch: look once more.
      if ((await this.client.get(this.key).exec()).kvs.length === 0) return;
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
        watcher.on('delete', () => resolve());
        watcher.on('put', () => resolve());
        watcher.on('disconnected', () => resolve());
        watcher.on('error', reject);
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }
}

interface EtcdLeaseHandle extends LeaseHandle {
  lease: Lease;
}

function handle(lease: Lease, ttlMs: number): EtcdLeaseHandle {
  return {
    lease,
    ttlMs,
    onRenewed: (listener) => lease.on('keepaliveSucceeded', () => listener()),
    onLost: (listener) => lease.on('lost', (err) => listener(err.message)),
    revoke: () => lease.revoke(),
  };
}
