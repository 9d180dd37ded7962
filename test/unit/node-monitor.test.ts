/**
 * The node monitor (packages/manager/src/workers/node-monitor.ts) over a real store with a clock
 * of the test's: a node is down after three missed heartbeats, but a stall of the manager's own
 * thread (heartbeats unread in its sockets) is not counted against the nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { NodeMonitor, NodeSessions, type NodeRecord } from '@warren/manager';
import { tempStore } from '../helpers/temp-store.js';

const INTERVAL = 1000;

async function setUp(t: import('node:test').TestContext) {
  const store = await tempStore(t, 'monitor');
  let clock = 1_000_000;
  const now = () => clock;
  const sessions = new NodeSessions(now, INTERVAL);
  const node = (id: string): NodeRecord => ({
    ...{ id, name: id, hostname: id, registeredAt: clock, lastSeenAt: clock, images: [] },
    ...{ availability: 'active', status: 'ready', history: [] },
  });
  await store.mutate(() => ({
    changes: [
      { kind: 'putNode', node: node('n1') },
      { kind: 'putNode', node: node('n2') },
    ],
    result: undefined,
  }));
  const monitor = new NodeMonitor(store, sessions, now, clock - 60_000, () => undefined, pino({ level: 'silent' }));
  const status = (id: string) => store.node(id)?.status;
  /** The clock moves on by `ms` in checks every 250 ms (a thread that runs), `beating` nodes sending a beat each second. */
  const run = async (ms: number, beating: string[]) => {
    for (let passed = 0; passed < ms; passed += 250) {
      clock += 250;
      if (passed % INTERVAL === 0) for (const id of beating) sessions.heartbeat(id);
      await monitor.check();
    }
  };
  return { sessions, monitor, status, run, jump: (ms: number) => (clock += ms), store };
}

test('a node that stops sending heartbeats is down after three missed, the others stay ready', async (t) => {
  const { status, run, store } = await setUp(t);
  await run(2000, ['n1', 'n2']);
  await run(1500, ['n1']);
  assert.equal(status('n1'), 'ready');
  assert.equal(status('n2'), 'ready', 'not yet: 2.25 s without a beat');
  await run(1500, ['n1']);
  assert.equal(status('n1'), 'ready');
  assert.equal(status('n2'), 'down');
  const reason = store.node('n2')!.history.at(-1)!.reason;
  const silentMs = Number(/no heartbeat for (\d+) ms/.exec(reason)?.[1]);
  assert.ok(silentMs > 3 * INTERVAL && silentMs < 4 * INTERVAL, reason);
});

test("a stall of the manager's own thread does not take live nodes down; a silent node still goes down", async (t) => {
  const { sessions, monitor, status, run, jump } = await setUp(t);
  await run(2000, ['n1', 'n2']);
  // The thread stalls for 3.5 s: no check ran, no heartbeat was read (they wait in the sockets).
  jump(3500);
  await monitor.check();
  assert.equal(status('n1'), 'ready', 'its beats are still unread');
  assert.equal(status('n2'), 'ready');
  // The beats queued meanwhile are read: n1's arrive; n2 has really gone.
  sessions.heartbeat('n1');
  await run(500, ['n1']);
  assert.equal(status('n1'), 'ready');
  assert.equal(status('n2'), 'ready', 'within the interval after the stall nothing is declared');
  await run(1000, ['n1']);
  assert.equal(status('n1'), 'ready');
  assert.equal(status('n2'), 'down', 'silent past the hold: down');
});

test('a manager that stalls again and again still declares a silent node down within twice the bound', async (t) => {
  const { sessions, monitor, status, jump } = await setUp(t);
  sessions.heartbeat('n1');
  await monitor.check();
  assert.equal(status('n1'), 'ready');
  let stalls = 0;
  while (status('n1') === 'ready' && stalls < 20) {
    jump(1500);
    await monitor.check();
    stalls++;
  }
  assert.equal(status('n1'), 'down');
  assert.ok(stalls * 1500 <= 2 * 3 * INTERVAL + 1500, `${stalls} stalls of 1.5 s`);
});
