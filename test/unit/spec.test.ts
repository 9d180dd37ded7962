import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROBE_DEFAULTS,
  RESTART_DEFAULTS,
  ValidationError,
  hasImage,
  normalizeImageRef,
  validateServiceSpec,
  type ServiceSpec,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
} from '@warren/core';

const good: ServiceSpec = {
  name: 'web',
  image: 'warren-test:latest',
  replicas: 3,
  command: ['httpd', '-f'],
  env: ['A=1', 'B=x=y', 'EMPTY='],
  network: 'bridge',
  stopTimeoutMs: 10_000,
  health: {},
  restart: RESTART_DEFAULTS,
  maxReplacing: 0,
  mounts: [],
  pull: 'missing',
  ports: [],
  update: UPDATE_DEFAULTS,
  rollback: ROLLBACK_DEFAULTS,
  forceUpdate: 0,
};

function rejects(change: Partial<ServiceSpec>, field: string): void {
  assert.throws(
    () => validateServiceSpec({ ...good, ...change }),
    (err: unknown) => err instanceof ValidationError && err.field === field,
    JSON.stringify(change),
  );
}

test('a complete spec passes unchanged', () => {
  assert.deepEqual(validateServiceSpec({ ...good }), good);
});

test('bad names, images, replicas, env, network and stop timeout are refused, naming the flag', () => {
  rejects({ name: '' }, 'service name');
  rejects({ name: '-web' }, 'service name');
  rejects({ name: 'web.1' }, 'service name');
  rejects({ name: 'a'.repeat(64) }, 'service name');
  rejects({ image: '' }, '--image');
  rejects({ image: 'has space' }, '--image');
  rejects({ replicas: -1 }, '--replicas');
  rejects({ replicas: 1.5 }, '--replicas');
  rejects({ replicas: 100_000 }, '--replicas');
  rejects({ env: ['NOEQUALS'] }, '--env');
  rejects({ env: ['1A=x'] }, '--env');
  rejects({ env: ['=x'] }, '--env');
  rejects({ network: '' }, '--network');
  rejects({ stopTimeoutMs: -1 }, '--stop-timeout');
  rejects({ restart: { ...RESTART_DEFAULTS, delayMs: -1 } }, '--restart-delay');
  rejects({ restart: { ...RESTART_DEFAULTS, delayMs: 10_000, maxDelayMs: 5000 } }, '--restart-max-delay');
  rejects({ restart: { ...RESTART_DEFAULTS, maxAttempts: -1 } }, '--restart-max-attempts');
  rejects({ maxReplacing: -1 }, '--max-replacing');
  rejects({ mounts: [{ source: 'relative', target: '/x', readonly: false }] }, '--mount');
});

test('probe timing and handlers are validated', () => {
  const probe = { handler: { kind: 'tcp' as const, port: 80 }, ...PROBE_DEFAULTS };
  assert.doesNotThrow(() => validateServiceSpec({ ...good, health: { check: probe } }));
  rejects({ health: { check: { ...probe, intervalMs: 5 } } }, '--health-interval');
  rejects({ health: { liveness: { ...probe, timeoutMs: 0 } } }, '--liveness-timeout');
  rejects({ health: { readiness: { ...probe, retries: 0 } } }, '--readiness-retries');
  rejects({ health: { startup: { ...probe, handler: { kind: 'tcp', port: 70_000 } } } }, '--startup-tcp');
  rejects({ health: { check: { ...probe, handler: { kind: 'exec', command: [] } } } }, '--health-cmd');
});

test('image references are matched the way users write them', () => {
  assert.equal(normalizeImageRef('warren-test'), 'warren-test:latest');
  assert.equal(normalizeImageRef('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(normalizeImageRef('app:1.2'), 'app:1.2');
  const images = ['warren-test:latest', 'sha256:2813a51bb5cc0ac9994564371c78d75e629e6c21123af3899071d3694960a133'];
  assert.ok(hasImage(images, 'warren-test'));
  assert.ok(hasImage(images, 'warren-test:latest'));
  assert.ok(hasImage(images, '2813a51bb5cc'));
  assert.ok(!hasImage(images, 'warren-test:other'));
  assert.ok(!hasImage(images, 'nginx'));
});
