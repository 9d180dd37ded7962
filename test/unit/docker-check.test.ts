import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, dockerCheckHealth, imageHealth, specsMatch } from '@warren/core';
import { testSpec } from '../helpers/spec.js';

test("Docker's check as a Warren check: CMD, CMD-SHELL, NONE, Docker's defaults", () => {
  assert.equal(dockerCheckHealth({ test: [] }), undefined);
  assert.equal(dockerCheckHealth({ test: ['NONE'] }), undefined);
  assert.deepEqual(dockerCheckHealth({ test: ['CMD', 'test', '-f', '/ok'], intervalMs: 1000, retries: 2 }), {
    check: {
      handler: { kind: 'exec', command: ['test', '-f', '/ok'] },
      intervalMs: 1000,
      timeoutMs: 30_000,
      retries: 2,
      successThreshold: 1,
      startPeriodMs: 0,
    },
  });
  const shell = dockerCheckHealth({ test: ['CMD-SHELL', 'curl -f localhost || exit 1'] });
  assert.deepEqual(shell?.check?.handler, { kind: 'exec', command: ['/bin/sh', '-c', 'curl -f localhost || exit 1'] });
  assert.throws(() => dockerCheckHealth({ test: ['RUN', 'x'] }, 'web.healthcheck.test'), ValidationError);
  assert.throws(() => dockerCheckHealth({ test: ['CMD'] }), /needs a command/);
});

test('a start interval is a startup phase probing that often for at most the start period', () => {
  const health = dockerCheckHealth({
    test: ['CMD', 'true'],
    intervalMs: 30_000,
    startPeriodMs: 10_000,
    startIntervalMs: 2000,
  });
  assert.equal(health?.startup?.intervalMs, 2000);
  assert.equal(health?.startup?.retries, 5);
  assert.equal(health?.check?.intervalMs, 30_000);
  assert.equal(health?.check?.startPeriodMs, 0);
});

test("an image's Config.Healthcheck (nanoseconds) is marked as the image's; a task carrying it still matches its service", () => {
  const health = imageHealth({ Test: ['CMD-SHELL', 'test -f /ok'], Interval: 1e9, Retries: 2 });
  assert.equal(health?.fromImage, true);
  assert.equal(health?.check?.intervalMs, 1000);
  assert.equal(imageHealth({ Test: ['NONE'] }), undefined);
  assert.equal(imageHealth(null), undefined);
  const spec = testSpec();
  assert.ok(specsMatch({ ...spec, health: health! }, spec), 'a task with its image check is not outdated');
  assert.ok(!specsMatch({ ...spec, noHealthcheck: true }, spec), '--no-healthcheck rolls the tasks over');
});
