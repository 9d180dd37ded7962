import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlreadyExistsError, type Service } from '@warren/core';
import { Store } from '@warren/manager';
import { testSpec } from '../helpers/spec.js';

const service = (id: string, name: string): Service => ({
  id,
  spec: testSpec({ name }),
  createdAt: 1,
  updatedAt: 1,
});

test('the store persists across reopen, and a mutation that throws writes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'warren-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await Store.open(dir);
  const seen: number[] = [];
  store.onCommit((changes) => seen.push(changes.length));
  await store.mutate(() => ({
    changes: [
      { kind: 'putService', service: service('s1', 'web') },
      { kind: 'putMeta', key: 'join-token', value: 'x' },
    ],
    result: undefined,
  }));
  await assert.rejects(
    store.mutate((view) => {
      if (view.serviceByName('web')) throw new AlreadyExistsError('service', 'web');
      return { changes: [{ kind: 'putService', service: service('s2', 'web') }], result: undefined };
    }),
    AlreadyExistsError,
  );
  assert.deepEqual(seen, [2]);
  await store.close();

  const reopened = await Store.open(dir);
  assert.deepEqual(
    [...reopened.services()].map((s) => s.id),
    ['s1'],
  );
  assert.equal(reopened.serviceByName('web')?.id, 's1');
  assert.equal(reopened.meta('join-token'), 'x');
  await reopened.close();
});

test('mutations run one at a time, so check-then-write cannot race', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'warren-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await Store.open(dir);
  const create = (id: string) =>
    store.mutate(async (view) => {
      await new Promise((r) => setTimeout(r, 5));
      if (view.serviceByName('web')) throw new AlreadyExistsError('service', 'web');
      return { changes: [{ kind: 'putService', service: service(id, 'web') }], result: id };
    });
  const results = await Promise.allSettled([create('a'), create('b'), create('c')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'rejected'],
  );
  assert.equal([...store.services()].length, 1);
  await store.close();
});
