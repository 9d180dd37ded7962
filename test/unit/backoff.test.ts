import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '@warren/core';
import { Backoff } from '@warren/worker';

/** Real timers: a wait may end a little late on a busy machine, never (much) early. */
const SLACK_MS = 100;

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

test('backoffDelay doubles from the first delay and stops at the cap', () => {
  const policy = { initialMs: 100, maxMs: 5000 };
  const delays = Array.from({ length: 9 }, (_, attempt) => backoffDelay(policy, attempt));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  assert.equal(backoffDelay({ initialMs: 100, maxMs: 2000 }, 5), 2000);
  assert.equal(backoffDelay(policy, 10_000), 5000);
});

test('each wait lasts twice the one before, up to the cap; reset starts again from the first', async () => {
  const backoff = new Backoff({ initialMs: 10, maxMs: 40 });
  const signal = new AbortController().signal;
  const planned: number[] = [];
  for (let i = 0; i < 4; i++) {
    const delayMs = backoff.nextDelayMs;
    planned.push(delayMs);
    const took = await timed(() => backoff.wait(signal));
    assert.ok(took >= delayMs - 1 && took < delayMs + SLACK_MS, `wait ${i}: planned ${delayMs} ms, took ${took} ms`);
  }
  assert.deepEqual(planned, [10, 20, 40, 40]);
  backoff.reset();
  assert.equal(backoff.nextDelayMs, 10);
});

test('a signal aborted before the wait ends it at once, without throwing', async () => {
  const backoff = new Backoff({ initialMs: 10_000, maxMs: 10_000 });
  const took = await timed(() => backoff.wait(AbortSignal.abort()));
  assert.ok(took < SLACK_MS, `took ${took} ms`);
});

test('a signal aborted during the wait ends it early, without throwing', async () => {
  const backoff = new Backoff({ initialMs: 10_000, maxMs: 10_000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);
  const took = await timed(() => backoff.wait(controller.signal));
  assert.ok(took >= 19 && took < 20 + SLACK_MS, `took ${took} ms`);
});

test('a signal aborted after a wait has ended changes nothing for it; later waits end at once', async () => {
  const backoff = new Backoff({ initialMs: 10, maxMs: 10_000 });
  const controller = new AbortController();
  await backoff.wait(controller.signal);
  controller.abort();
  assert.equal(backoff.nextDelayMs, 20);
  const took = await timed(() => backoff.wait(controller.signal));
  assert.ok(took < SLACK_MS, `took ${took} ms`);
});
