/**
 * Leadership (DESIGN 9) with a fake etcd and a fake clock: one leader at a time, a term that ends
 * when the lease is lost, when it was not renewed for a TTL and a hold (a frozen or cut-off leader
 * stops; an etcd election shorter than that does not end it), when a write was fenced, and at
 * shutdown (handing over at once).
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import {
  Election,
  type Campaign,
  type ElectionHooks,
  type ElectionStore,
  type LeaderInfo,
  type LeaseHandle,
  type Term,
} from '@warren/manager';

/** One fake etcd for several managers: a leadership key held by a lease, and who watches it. */
class FakeEtcd {
  holder: { info: LeaderInfo; lease: FakeLease } | undefined;
  revision = 1;
  reachable = true;
  /** Revokes wait until released (etcd without quorum answers nothing until the call's deadline). */
  hangRevokes = false;
  readonly hung: Array<() => void> = [];
  readonly waiting = new Set<() => void>();

  store(): ElectionStore {
    return {
      grant: async (ttlSec) => {
        if (!this.reachable) throw new Error('etcd unreachable');
        return new FakeLease(this, ttlSec * 1000);
      },
      campaign: async (info, lease): Promise<Campaign> => {
        if (!this.reachable) throw new Error('etcd unreachable');
        if (this.holder) return { won: false, leader: this.holder.info };
        this.holder = { info, lease: lease as FakeLease };
        return { won: true, fence: { key: 'leader', revision: String(++this.revision) } };
      },
      changed: (signal) =>
        new Promise<void>((resolve) => {
          const done = (): void => {
            this.waiting.delete(done);
            resolve();
          };
          this.waiting.add(done);
          signal.addEventListener('abort', done, { once: true });
        }),
    };
  }

  /** The key is gone: its lease expired or was revoked. */
  release(lease: FakeLease): void {
    if (this.holder?.lease !== lease) return;
    this.holder = undefined;
    for (const w of [...this.waiting]) w();
  }
}

class FakeLease implements LeaseHandle {
  readonly renewed: Array<() => void> = [];
  readonly lost: Array<(reason: string) => void> = [];
  revoked = false;
  constructor(
    private readonly etcd: FakeEtcd,
    readonly ttlMs: number,
  ) {}
  onRenewed(listener: () => void): void {
    this.renewed.push(listener);
  }
  onLost(listener: (reason: string) => void): void {
    this.lost.push(listener);
  }
  async revoke(): Promise<void> {
    if (this.etcd.hangRevokes) await new Promise<void>((resolve) => this.etcd.hung.push(resolve));
    this.revoked = true;
    this.etcd.release(this);
  }
  renew(): void {
    for (const l of this.renewed) l();
  }
}

const info = (id: string): LeaderInfo => ({ id, address: `${id}:7420`, http: `${id}:7421` });

function hooks(): ElectionHooks & { terms: Term[]; followed: Array<[string | undefined, string]> } {
  const terms: Term[] = [];
  const followed: Array<[string | undefined, string]> = [];
  return {
    terms,
    followed,
    lead: (term) => terms.push(term),
    follow: (leader, why) => followed.push([leader?.id, why]),
  };
}

/** Lets pending promises settle (the election's awaits) without moving the fake clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

test('one leader; the other follows it and takes over when its lease is revoked at shutdown', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  t.after(() => mock.timers.reset());
  const etcd = new FakeEtcd();
  const logger = pino({ level: 'silent' });
  const [a, b] = [
    new Election(etcd.store(), info('a'), { ttlSec: 1, logger }),
    new Election(etcd.store(), info('b'), { ttlSec: 1, logger }),
  ];
  const [ha, hb] = [hooks(), hooks()];
  const [stopA, stopB] = [new AbortController(), new AbortController()];
  const runA = a.run(ha, stopA.signal);
  await settle();
  const runB = b.run(hb, stopB.signal);
  await settle();
  assert.equal(a.leading, true);
  assert.equal(b.leading, false);
  assert.equal(b.leader?.id, 'a');
  assert.deepEqual(hb.followed, [['a', 'another manager leads']]);

  // Renewals keep the term going.
  for (let i = 0; i < 10; i++) {
    mock.timers.tick(300);
    etcd.holder!.lease.renew();
    await settle();
  }
  assert.equal(a.leading, true);
  assert.equal(ha.terms[0]!.signal.aborted, false);

  stopA.abort();
  await runA;
  assert.equal(ha.terms[0]!.signal.aborted, true, 'the term ended');
  await settle();
  assert.equal(b.leading, true, 'the follower took over at once');
  assert.notEqual(hb.terms[0]!.fence!.revision, ha.terms[0]!.fence!.revision);
  stopB.abort();
  await runB;
});

test('a leader whose lease was not renewed for a TTL and a hold stops; an etcd election within it changes nothing', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  t.after(() => mock.timers.reset());
  const etcd = new FakeEtcd();
  const election = new Election(etcd.store(), info('a'), { ttlSec: 1, logger: pino({ level: 'silent' }) });
  const h = hooks();
  const stop = new AbortController();
  const run = election.run(h, stop.signal);
  await settle();
  const term = h.terms[0]!;
  // etcd elects a leader of its own for 1.5 s, then renews (extending every lease): the term goes on.
  mock.timers.tick(1500);
  await settle();
  etcd.holder!.lease.renew();
  assert.equal(term.signal.aborted, false, 'silent for 1.5 s, within the TTL and the hold');
  mock.timers.tick(1900);
  await settle();
  assert.equal(term.signal.aborted, false, 'renewed 1.9 s ago');
  mock.timers.tick(150);
  await settle();
  assert.equal(term.signal.aborted, true, 'not renewed for 2 s: the term is over');
  assert.match(h.followed[0]![1], /not renewed for \d+ ms/);
  stop.abort();
  await run;
});

test('a lost lease and a fenced write end the term; without etcd it says no quorum and tries again', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  t.after(() => mock.timers.reset());
  const etcd = new FakeEtcd();
  const election = new Election(etcd.store(), info('a'), {
    ttlSec: 1,
    logger: pino({ level: 'silent' }),
    retryMs: 100,
  });
  const h = hooks();
  const stop = new AbortController();
  const run = election.run(h, stop.signal);
  t.after(() => stop.abort());
  await settle();
  for (const l of etcd.holder!.lease.lost) l('etcd says the lease is gone');
  await settle();
  assert.equal(h.terms[0]!.signal.aborted, true);
  assert.match(h.followed[0]![1], /lease was lost: etcd says the lease is gone/);
  await settle();
  assert.equal(h.terms.length, 2, 'it campaigned again and won the next term');

  election.stepDown('a write was fenced');
  await settle();
  assert.equal(h.terms[1]!.signal.aborted, true);
  assert.match(h.followed.at(-1)![1], /a write was fenced/);

  // etcd loses its quorum: the lease goes, and nothing more can be granted.
  etcd.reachable = false;
  const holder = etcd.holder!.lease;
  etcd.release(holder);
  for (const l of holder.lost) l('etcd unreachable');
  await settle();
  mock.timers.tick(100);
  await settle();
  assert.ok(
    h.followed.some(([leader, why]) => leader === undefined && /^no quorum: /.test(why)),
    JSON.stringify(h.followed),
  );
  const before = h.terms.length;
  etcd.reachable = true;
  mock.timers.tick(100);
  await settle();
  assert.equal(h.terms.length, before + 1, 'leads again once etcd answers');
  stop.abort();
  await run;
});

test('a leader that stops says why at once, while the lease is still being revoked', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  t.after(() => mock.timers.reset());
  const etcd = new FakeEtcd();
  const election = new Election(etcd.store(), info('a'), { ttlSec: 1, logger: pino({ level: 'silent' }) });
  const stop = new AbortController();
  const run = election.run(hooks(), stop.signal);
  await settle();
  assert.equal(election.leading, true);
  etcd.hangRevokes = true;
  mock.timers.tick(2000); // no renewal for a TTL and the hold
  await settle();
  assert.equal(election.leading, false);
  assert.equal(election.leader, undefined);
  assert.match(election.why, /^the leadership lease was not renewed for \d+ ms$/);
  assert.equal(etcd.hung.length, 1, 'the revoke is still under way');
  etcd.hangRevokes = false;
  for (const release of etcd.hung) release();
  stop.abort();
  await run;
});
