import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TASK_STATES, canAdvance, containerName, isTerminal } from '@warren/core';

test('observed state only moves forward, and never out of a terminal state', () => {
  assert.ok(canAdvance('assigned', 'starting'));
  assert.ok(canAdvance('assigned', 'running'));
  assert.ok(canAdvance('running', 'failed'));
  assert.ok(canAdvance('starting', 'rejected'));
  assert.ok(!canAdvance('running', 'starting'));
  assert.ok(!canAdvance('running', 'running'));
  for (const terminal of TASK_STATES.filter(isTerminal)) {
    for (const to of TASK_STATES) assert.ok(!canAdvance(terminal, to), `${terminal} → ${to}`);
  }
});

test('containers are named like Swarm names them', () => {
  assert.equal(containerName({ serviceName: 'web', slot: 2, id: 'abc123' }), 'web.2.abc123');
});
