/** A complete service spec for tests: the defaults `service create` would fill in, and `over`. */
import { ROLLBACK_DEFAULTS, RESTART_DEFAULTS, UPDATE_DEFAULTS, type ServiceSpec } from '@warren/core';

export function testSpec(over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: 'web',
    image: 'warren-test:latest',
    replicas: 1,
    command: [],
    env: [],
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
    ...over,
  };
}
