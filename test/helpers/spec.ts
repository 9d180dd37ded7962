/** A complete service spec for tests: the defaults `service create` would fill in, and `over`. */
import { ROLLBACK_DEFAULTS, RESTART_DEFAULTS, UPDATE_DEFAULTS, type ServiceSpec, type Task } from '@warren/core';

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

/** A task of `spec` running on node `n`, as a prober is handed one (ids and times made up). */
export function runningTask(id: string, spec: ServiceSpec, over: Partial<Task> = {}): Task {
  return {
    id,
    serviceId: 's',
    serviceName: spec.name,
    slot: 1,
    nodeId: 'n',
    desiredState: 'running',
    state: 'running',
    message: '',
    error: '',
    containerId: '',
    address: '',
    startedAt: 0,
    replacing: false,
    held: false,
    createdAt: 0,
    updatedAt: 0,
    spec,
    ...over,
  };
}
