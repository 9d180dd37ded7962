import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '@warren/manager';

test('group commit: what arrives during a write goes in the next one, together; each item gets its own answer', async () => {
  const writes: number[][] = [];
  let release: (() => void) | undefined;
  const commit = new GroupCommit<number, string>(async (items) => {
    writes.push(items);
    if (writes.length === 1) await new Promise<void>((r) => (release = r));
    return items.map((n) => (n < 0 ? new Error(`refused ${n}`) : `ok ${n}`));
  });
  const first = commit.submit(1);
  const later = [commit.submit(2), commit.submit(-3), commit.submit(4)];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [[1]], 'the first write is under way; the others wait');
  release!();
  assert.equal(await first, 'ok 1');
  const settled = await Promise.allSettled(later);
  assert.deepEqual(writes, [[1], [2, -3, 4]], 'one write for all that waited');
  assert.deepEqual(
    settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
    ['ok 2', 'refused -3', 'ok 4'],
  );
});

test('group commit: a write that throws fails its items, and the next write goes on', async () => {
  let fail = true;
  const commit = new GroupCommit<number, number>(async (items) => {
    if (fail) throw new Error('disk full');
    return items;
  });
  await assert.rejects(commit.submit(1), /disk full/);
  fail = false;
  assert.equal(await commit.submit(2), 2);
});
