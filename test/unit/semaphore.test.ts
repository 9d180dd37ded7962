import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '@warren/worker';

test('the exec limit lets at most `limit` run at once, the rest in order', async () => {
  const limit = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 7 }, async (_, i) => {
      const release = await limit.acquire();
      order.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      release();
      release(); // releasing twice is harmless
    }),
  );
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(limit.waiting, 0);
});
