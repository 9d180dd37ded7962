import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import {
  DESCRIPTOR,
  PROTO_LOAD_OPTIONS,
  controlProto,
  specFromWire,
  specToWire,
  taskFromWire,
  taskToWire,
  warrenProto,
} from '@warren/api';
import {
  RESTART_DEFAULTS,
  SPEC_DEFAULTS,
  type ServiceSpec,
  type Task,
  type TaskHealthRecords,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
} from '@warren/core';

// Every round trip goes through real protobuf bytes, as over gRPC: a zero that proto3 does not
// send is only caught there.
// The .proto itself, parsed here: processes load the descriptor scripts/gen-types made of it.
const includeDirs = [fileURLToPath(new URL('../../../proto', import.meta.url))];
const definition = protoLoader.loadSync('warren/v1/warren.proto', { ...PROTO_LOAD_OPTIONS, includeDirs });

type Method = {
  requestSerialize: (m: unknown) => Buffer;
  requestDeserialize: (b: Buffer) => unknown;
  responseSerialize: (m: unknown) => Buffer;
  responseDeserialize: (b: Buffer) => unknown;
};
const control = definition['warren.v1.ControlService'] as unknown as Record<string, Method>;

function overTheWire(spec: ServiceSpec): ServiceSpec {
  const create = control.CreateService!;
  const received = create.requestDeserialize(create.requestSerialize({ spec: specToWire(spec) })) as {
    spec: Parameters<typeof specFromWire>[0];
  };
  return specFromWire(received.spec);
}

const full: ServiceSpec = {
  name: 'web',
  image: 'warren-test:latest',
  replicas: 3,
  command: ['httpd', '-f', '-p', '8080'],
  env: ['A=1', 'EMPTY='],
  network: 'host',
  stopTimeoutMs: 2500,
  health: {
    startup: {
      handler: { kind: 'tcp', port: 8080 },
      intervalMs: 100,
      timeoutMs: 50,
      retries: 30,
      successThreshold: 1,
      startPeriodMs: 0,
    },
    liveness: {
      handler: {
        kind: 'http',
        path: '/health',
        port: 8080,
        scheme: 'https',
        headers: [{ name: 'X-A', value: 'b:c' }],
        statusMin: 200,
        statusMax: 299,
      },
      intervalMs: 2000,
      timeoutMs: 1000,
      retries: 2,
      successThreshold: 1,
      startPeriodMs: 5000,
    },
    readiness: {
      handler: { kind: 'grpc', port: 50051, service: 'app' },
      intervalMs: 500,
      timeoutMs: 200,
      retries: 1,
      successThreshold: 2,
      startPeriodMs: 0,
    },
    check: {
      handler: { kind: 'exec', command: ['/bin/sh', '-c', 'test -f /ok'] },
      intervalMs: 30_000,
      timeoutMs: 10_000,
      retries: 3,
      successThreshold: 1,
      startPeriodMs: 0,
    },
  },
  restart: { delayMs: 250, maxDelayMs: 4000, maxAttempts: 5, windowMs: 60_000 },
  maxReplacing: 2,
  mounts: [{ source: '/srv/data', target: '/data', readonly: true }],
  pull: 'always',
  ports: [{ published: 8080, target: 80, protocol: 'tcp' }],
  update: UPDATE_DEFAULTS,
  rollback: ROLLBACK_DEFAULTS,
  forceUpdate: 0,
};

test('every field of a spec survives the wire unchanged', () => {
  assert.deepEqual(overTheWire(full), full);
});

test('explicit zeros and empties survive the wire: they are not defaults', () => {
  const zeros: ServiceSpec = {
    ...full,
    command: [],
    env: [],
    network: 'bridge',
    stopTimeoutMs: 0,
    health: {},
    restart: { delayMs: 0, maxDelayMs: 0, maxAttempts: 0, windowMs: 0 },
    maxReplacing: 0,
    mounts: [],
  };
  assert.deepEqual(overTheWire(zeros), zeros);
});

test('each restart field keeps its own zero while the others keep their values', () => {
  for (const field of ['delayMs', 'maxDelayMs', 'maxAttempts', 'windowMs'] as const) {
    const spec = { ...full, restart: { ...full.restart, [field]: 0 } };
    assert.deepEqual(overTheWire(spec).restart, spec.restart, field);
  }
});

test('a spec from a client that sets nothing gets the defaults', () => {
  const create = control.CreateService!;
  const received = create.requestDeserialize(create.requestSerialize({ spec: { name: 'x', image: 'i' } })) as {
    spec: Parameters<typeof specFromWire>[0];
  };
  const spec = specFromWire(received.spec);
  assert.deepEqual(spec.restart, RESTART_DEFAULTS);
  assert.equal(spec.stopTimeoutMs, SPEC_DEFAULTS.stopTimeoutMs);
  assert.equal(spec.network, SPEC_DEFAULTS.network);
  assert.deepEqual(spec.health, {});
  assert.equal(specFromWire(undefined).name, '');
});

test('a task and its health records survive the wire from manager to worker', () => {
  const task: Task = {
    id: 't1',
    serviceId: 's1',
    serviceName: 'web',
    slot: 2,
    nodeId: 'n1',
    desiredState: 'running',
    state: 'running',
    message: 'running',
    error: '',
    exitCode: 0,
    containerId: 'c1',
    address: '172.17.0.2',
    startedAt: 1_700_000_000_000,
    replacing: true,
    held: false,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_500,
    spec: full,
  };
  const health: TaskHealthRecords = {
    liveness: {
      status: 'healthy',
      successStreak: 3,
      failureStreak: 0,
      everSucceeded: true,
      lastTransitionAt: 1_700_000_000_100,
      lastTransitionFrom: 'starting',
      results: [
        { at: 1_700_000_000_050, durationMs: 4, outcome: 'failure', code: 500, output: 'HTTP 500', counted: false },
        { at: 1_700_000_000_100, durationMs: 3, outcome: 'success', code: 200, output: '', counted: true },
        { at: 1_700_000_000_150, durationMs: 1000, outcome: 'unknown', output: 'engine silent', counted: false },
      ],
    },
  };
  const back = taskOverTheWire(taskToWire(task, 'node-1', health));
  assert.deepEqual(back, { ...task, nodeName: 'node-1', health });
  // A task without an exit code has none on the other side, not a 0.
  const { exitCode: _, ...noExit } = task;
  assert.equal('exitCode' in taskOverTheWire(taskToWire(noExit)), false);
});

/** A task encoded and decoded as one element of a ListTasks answer. */
function taskOverTheWire(message: ReturnType<typeof taskToWire>): ReturnType<typeof taskFromWire> {
  const list = control.ListTasks!;
  const decoded = list.responseDeserialize(list.responseSerialize({ tasks: [message] })) as {
    tasks: Array<Parameters<typeof taskFromWire>[0]>;
  };
  return taskFromWire(decoded.tasks[0]!);
}

test('the protocol processes load is the .proto as it is now, and proto-loader reads and writes it the same', () => {
  // scripts/gen-types ran: the descriptor is the .proto's.
  const runtime = protoLoader.fromJSON(DESCRIPTOR as Parameters<typeof protoLoader.fromJSON>[0], PROTO_LOAD_OPTIONS);
  assert.deepEqual(Object.keys(runtime).sort(), Object.keys(definition).sort());
  for (const [name, def] of Object.entries(definition)) {
    assert.deepEqual(JSON.stringify(runtime[name]), JSON.stringify(def), name);
  }
  // Every method of warrenProto() (protobufjs on the descriptor) against proto-loader on the .proto.
  const ours = warrenProto();
  for (const service of ['ControlService', 'WorkerService'] as const) {
    const theirs = definition[`warren.v1.${service}`] as unknown as Record<string, Method & { path: string }>;
    const mine = ours[service].service as unknown as Record<string, Method & { path: string }>;
    assert.deepEqual(Object.keys(mine).sort(), Object.keys(theirs).sort(), service);
    for (const [method, def] of Object.entries(theirs)) {
      assert.equal(mine[method]!.path, def.path);
      const empty = def.requestDeserialize(Buffer.alloc(0));
      assert.deepEqual(mine[method]!.requestDeserialize(Buffer.alloc(0)), empty, `${method}: defaults`);
      const bytes = def.requestSerialize(empty);
      assert.deepEqual(mine[method]!.requestSerialize(empty), bytes, `${method}: bytes`);
      assert.deepEqual(mine[method]!.responseDeserialize(Buffer.alloc(0)), def.responseDeserialize(Buffer.alloc(0)));
    }
  }
  // The CLI's part of the descriptor (controlProto) reads and writes the ControlService the same.
  const part = controlProto().ControlService.service as unknown as Record<string, Method & { path: string }>;
  const whole = ours.ControlService.service as unknown as Record<string, Method & { path: string }>;
  assert.deepEqual(Object.keys(part).sort(), Object.keys(whole).sort());
  for (const [method, def] of Object.entries(whole)) {
    const empty = def.responseDeserialize(Buffer.alloc(0));
    assert.deepEqual(part[method]!.responseDeserialize(Buffer.alloc(0)), empty, `${method}: the CLI's part`);
  }
  const spec = specToWire(full);
  const create = ours.ControlService.service.CreateService;
  const theirCreate = control.CreateService!;
  assert.deepEqual(create.requestSerialize({ spec }), theirCreate.requestSerialize({ spec }));
  assert.deepEqual(
    create.requestDeserialize(theirCreate.requestSerialize({ spec })),
    theirCreate.requestDeserialize(theirCreate.requestSerialize({ spec })),
  );
  const partCreate = part.CreateService!;
  assert.deepEqual(partCreate.requestSerialize({ spec }), create.requestSerialize({ spec }));
});
