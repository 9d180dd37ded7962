import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, formatAge, formatDuration, parseDuration } from '@warren/core';

test('parseDuration reads units, compounds and bare seconds', () => {
  assert.equal(parseDuration('500ms', 'x'), 500);
  assert.equal(parseDuration('10s', 'x'), 10_000);
  assert.equal(parseDuration('1m30s', 'x'), 90_000);
  assert.equal(parseDuration('1h', 'x'), 3_600_000);
  assert.equal(parseDuration('2', 'x'), 2000);
  assert.equal(parseDuration('0.5', 'x'), 500);
  assert.equal(parseDuration('1.5s', 'x'), 1500);
});

test('parseDuration names the flag and the value in its error', () => {
  for (const bad of ['', 'abc', '10x', '5s3', '-1s', 's']) {
    assert.throws(
      () => parseDuration(bad, '--stop-timeout'),
      (err: unknown) =>
        err instanceof ValidationError && err.field === '--stop-timeout' && err.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test('formatDuration writes what parseDuration reads', () => {
  for (const ms of [0, 10, 500, 1000, 90_000, 3_600_000, 3_723_500]) {
    assert.equal(parseDuration(formatDuration(ms), 'x'), ms);
  }
  assert.equal(formatDuration(90_000), '1m30s');
});

test('formatAge is short', () => {
  assert.equal(formatAge(4_000), '4s');
  assert.equal(formatAge(125_000), '2m');
  assert.equal(formatAge(7_200_000), '2h');
  assert.equal(formatAge(3 * 86_400_000), '3d');
});
