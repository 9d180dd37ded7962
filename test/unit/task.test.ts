import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROBE_DEFAULTS,
  TASK_STATES,
  canAdvance,
  containerName,
  initialPhaseState,
  isEndpoint,
  isTerminal,
  type Task,
  type TaskHealthRecords,
} from '@warren/core';
import { testSpec } from '../helpers/spec.js';

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

test('a task is an endpoint when it should run, is ready, and its node is up: one rule', () => {
  const spec = testSpec({ health: { readiness: { ...PROBE_DEFAULTS, handler: { kind: 'tcp', port: 80 } } } });
  const ready: TaskHealthRecords = { readiness: { ...initialPhaseState(0), status: 'healthy', results: [] } };
  const task: Task = {
    ...{
      id: 't',
      serviceId: 's',
      serviceName: 'web',
      slot: 1,
      nodeId: 'n',
      desiredState: 'running',
      state: 'running',
    },
    ...{ message: '', error: '', containerId: 'c', address: '10.0.0.2', startedAt: 1, replacing: false, held: false },
    ...{ createdAt: 0, updatedAt: 0, spec },
  };
  assert.equal(isEndpoint(task, ready, true), true);
  assert.equal(isEndpoint(task, ready, false), false, 'its node is down');
  assert.equal(isEndpoint({ ...task, desiredState: 'shutdown' }, ready, true), false, 'being stopped');
  assert.equal(isEndpoint(task, {}, true), false, 'readiness not passed yet');
  assert.equal(isEndpoint({ ...task, state: 'starting' }, ready, true), false, 'not running');
});
