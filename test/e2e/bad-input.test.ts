import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TLS_CHANNEL_OPTIONS, channelCredentials, createWorkerClient, unary, type wire } from '@warren/api';
import { Cluster, Daemon, TEST_IMAGE, runWarren, spawnWarren } from '../helpers/cluster.js';

test('bad flags exit 2 with one line naming what is wrong, and nothing is created', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--', 'sleep', '1000');

  const cases: Array<[string[], RegExp]> = [
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--replicas', '-1'],
      /--replicas -1: must be a whole number from 0 to 1000/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--replicas', 'three'],
      /--replicas "three": must be a whole number/,
    ],
    [['service', 'create', '', '--image', TEST_IMAGE], /service name "": use 1-63 letters/],
    [['service', 'create', 'bad.name', '--image', TEST_IMAGE], /service name "bad.name"/],
    [['service', 'create', 'web', '--image', TEST_IMAGE], /service "web" already exists/],
    [
      ['service', 'create', 'api', '--image', 'no-such-image:1', '--pull', 'never'],
      /--image "no-such-image:1": no ready node has it, and --pull never forbids pulling it/,
    ],
    [['service', 'create', 'api', '--image', TEST_IMAGE, '--pull', 'sometimes'], /--pull "sometimes": use one of/],
    [['service', 'create', 'api', '--image', 'Web App:1'], /--image "Web App:1": not an image reference/],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--env', 'NOVALUE'],
      /--env "NOVALUE": write it as KEY=VALUE/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--stop-timeout', 'soon'],
      /--stop-timeout "soon": not a duration/,
    ],
    [['service', 'create', 'api'], /required option '--image <image>' not specified/],
    [['service', 'scale', 'missing=3'], /service "missing" not found/],
    [['service', 'scale', 'web=-2'], /replicas of web -2: must be a whole number/],
    [['service', 'scale', 'web'], /scale "web": write it as NAME=REPLICAS/],
    [['service', 'rm', 'missing'], /service "missing" not found/],
    [['service', 'inspect', 'missing'], /service "missing" not found/],
    [['service', 'ls', '--format', 'yaml'], /--format.*yaml.*invalid/i],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-tcp', 'port=80', '--health-interval', '5ms'],
      /--health-interval "5ms": must be at least 10ms/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-tcp', 'port=80', '--health-retries', '0'],
      /--health-retries 0: must be a whole number of at least 1/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-http', 'port=abc'],
      /--health-http "port=abc": port=abc is not a port number/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-http', 'path=/x'],
      /--health-http "path=\/x": needs port=/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-http', 'port=80,colour=red'],
      /"colour=red" is not one of path=…, port=…, scheme=…, header=…, status=…/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-http', 'port=80,status=600-700'],
      /status must be a range within 100-599/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--health-tcp', 'port=80', '--health-cmd', 'true'],
      /--health-cmd "true": only one check per probe: --health-tcp is already given/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--liveness-interval', '1s'],
      /--liveness-interval "1s": needs a check: add --liveness-http/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--readiness-cmd', '["bad"'],
      /--readiness-cmd .*not a JSON array of strings/,
    ],
    [
      ['service', 'create', 'api', '--image', TEST_IMAGE, '--startup-tcp', 'port=70000'],
      /--startup-tcp "port=70000": port must be 1-65535/,
    ],
    [['service', 'frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const res = await c.cli(...args);
    assert.equal(res.code, 2, `${args.join(' ')}: exit code (stderr: ${res.stderr})`);
    assert.match(res.stderr, message, args.join(' '));
    assert.equal(res.stdout, '', `${args.join(' ')}: nothing on stdout`);
  }
  const services = JSON.parse(await c.ok('service', 'ls', '--format', 'json')) as Array<{
    name: string;
    spec: { replicas: number };
  }>;
  assert.deepEqual(
    services.map((s) => [s.name, s.spec.replicas]),
    [['web', 1]],
    'nothing created or changed',
  );
  assert.equal((await c.tasks('web')).length, 1);
});

test('an unreachable manager exits 1 and says where it tried; a TLS address without a certificate exits 2', async () => {
  const res = await runWarren(['--manager', 'unix:/nonexistent/warren.sock', 'service', 'ls']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^error: cannot reach the manager at unix:\/nonexistent\/warren\.sock /);
  const env = await runWarren(['node', 'ls'], { WARREN_MANAGER: 'unix:/nonexistent/other.sock' });
  assert.equal(env.code, 1);
  assert.match(env.stderr, /other\.sock/);
  const tls = await runWarren(['--manager', '127.0.0.1:2', 'node', 'ls']);
  assert.equal(tls.code, 2);
  assert.match(
    tls.stderr,
    /^error: 127\.0\.0\.1:2 is the manager's TLS port: the CLI needs a client certificate there/,
  );
});

test('a worker with a wrong join token is refused with a clear error, and nothing is stored', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const join = async (token: string): Promise<Daemon> => {
    const worker = spawnWarren(['worker', '--manager', c.address, '--token', token, '--data-dir', c.workerDir('x')]);
    await worker.exited;
    return worker;
  };
  const malformed = await join('wrn-wrong');
  assert.equal(malformed.process.exitCode, 2);
  assert.match(malformed.stderr, /error: --token .*is not a join token/);
  assert.ok(!malformed.stderr.includes('wrn-wrong'), 'the token is not echoed');
  const [caHash] = c.token.replace(/^WRN-1-/, '').split('-');
  const secret = await join(`WRN-1-${caHash}-${'x'.repeat(32)}`);
  assert.equal(secret.process.exitCode, 2);
  assert.match(secret.stderr, /error: invalid join token/);
  const foreign = await join(`WRN-1-${'0'.repeat(64)}-${'x'.repeat(32)}`);
  assert.equal(foreign.process.exitCode, 2);
  assert.match(foreign.stderr, /error: the manager at .* belongs to another cluster/);
  const refusal = await c.manager.waitForLog((l) => l.msg === 'worker call refused');
  assert.equal(typeof refusal.peer, 'string', 'the manager logged the refusal and the peer');
  assert.deepEqual(JSON.parse(await c.ok('node', 'ls', '--format', 'json')), [], 'no node registered');
});

test("hand-made gRPC requests are validated like the CLI's: nothing bad reaches the store", async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const control = c.controlClient();
  const workers = c.workerClient('w1');
  const stranger = createWorkerClient(c.address, channelCredentials({ caPem: c.caPem }), TLS_CHANNEL_OPTIONS);
  t.after(() => {
    control.close();
    workers.close();
    stranger.close();
  });
  const code = async (p: Promise<unknown>): Promise<[grpc.status, string]> => {
    try {
      await p;
      return [grpc.status.OK, ''];
    } catch (err) {
      return [(err as grpc.ServiceError).code, (err as grpc.ServiceError).details];
    }
  };
  const create = (spec: wire.ServiceSpec) =>
    unary<wire.CreateServiceRequest, wire.ServiceOut>(control.CreateService, control, { spec });

  assert.deepEqual(await code(create({ name: 'ok', image: TEST_IMAGE, replicas: -3 })), [
    grpc.status.INVALID_ARGUMENT,
    '--replicas -3: must be a whole number from 0 to 1000',
  ]);
  assert.equal(
    (await code(create({ name: '../etc', image: TEST_IMAGE, replicas: 1 })))[0],
    grpc.status.INVALID_ARGUMENT,
  );
  assert.equal((await code(create({ name: 'ok', image: '', replicas: 1 })))[0], grpc.status.INVALID_ARGUMENT);
  assert.equal(
    (await code(create({ name: 'ok', image: TEST_IMAGE, replicas: 1, env: ['x'] })))[0],
    grpc.status.INVALID_ARGUMENT,
  );
  assert.equal(
    (await code(create({ name: 'ok', image: TEST_IMAGE, replicas: 1, health: { check: { tcp: { port: 0 } } } })))[0],
    grpc.status.INVALID_ARGUMENT,
  );
  assert.equal(
    (await code(unary(control.ScaleService, control, { name: 'nope', replicas: 1 })))[0],
    grpc.status.NOT_FOUND,
  );
  assert.equal((await code(unary(control.InspectService, control, { name: '' })))[0], grpc.status.INVALID_ARGUMENT);

  // Worker calls: no certificate, another node's id, unknown task, a state a worker may not report.
  const nodeId = [...c.nodeIds][0]!;
  const report = (req: wire.TaskStatusUpdate, client = workers) => unary(client.UpdateTaskStatus, client, req);
  assert.equal(
    (await code(report({ nodeId, taskId: 'x', state: 'running' }, stranger)))[0],
    grpc.status.UNAUTHENTICATED,
  );
  assert.deepEqual(await code(report({ nodeId, taskId: 'nope', state: 'running' })), [
    grpc.status.NOT_FOUND,
    'task "nope" not found',
  ]);
  assert.equal(
    (await code(report({ nodeId: 'ghost', taskId: 'nope', state: 'running' })))[0],
    grpc.status.UNAUTHENTICATED,
  );
  assert.equal((await code(report({ nodeId, taskId: 'nope', state: 'pending' })))[0], grpc.status.INVALID_ARGUMENT);
  assert.equal((await code(report({ nodeId, taskId: 'nope', state: 'exploded' })))[0], grpc.status.INVALID_ARGUMENT);
  assert.equal((await code(unary(workers.Register, workers, { name: '' })))[0], grpc.status.INVALID_ARGUMENT);
  const name = c.nodeName('w1');
  assert.deepEqual(
    await code(unary(workers.Register, workers, { name, capacity: { nanoCpus: -2e9, memoryBytes: 1 } })),
    [grpc.status.INVALID_ARGUMENT, 'capacity -2000000000: not an amount of CPUs'],
  );
  const resources = { limitMemoryBytes: 64 * 2 ** 20, reserveMemoryBytes: 128 * 2 ** 20 };
  assert.deepEqual(await code(create({ name: 'ok', image: TEST_IMAGE, replicas: 1, resources })), [
    grpc.status.INVALID_ARGUMENT,
    '--reserve-memory "128 MiB": is above --limit-memory 64 MiB',
  ]);
  assert.equal((await code(unary(stranger.Heartbeat, stranger, { nodeId })))[0], grpc.status.UNAUTHENTICATED);
  assert.equal(
    (await code(unary(stranger.Register, stranger, { token: 'guess', name: 'x', csr: 'y' })))[0],
    grpc.status.UNAUTHENTICATED,
  );

  // A worker may not move a task backwards, nor touch another node's task.
  await c.ok('service', 'create', 'web', '--image', TEST_IMAGE, '--', 'sleep', '1000');
  const [task] = await c.waitRunning('web', 1);
  assert.equal(
    (await code(report({ nodeId, taskId: task!.id, state: 'starting' })))[0],
    grpc.status.FAILED_PRECONDITION,
  );
  await c.startWorker('w2');
  const other = c.workerClient('w2');
  t.after(() => other.close());
  const nodes = JSON.parse(await c.ok('node', 'ls', '--format', 'json')) as Array<{ id: string; name: string }>;
  const otherId = nodes.find((n) => n.name === c.nodeName('w2'))!.id;
  assert.equal(
    (await code(report({ nodeId: otherId, taskId: task!.id, state: 'failed' }, other)))[0],
    grpc.status.FAILED_PRECONDITION,
  );
  const [after] = await c.tasks('web');
  assert.equal(after!.state, 'running', 'the refused reports changed nothing');
  assert.deepEqual((JSON.parse(await c.ok('service', 'ls', '--format', 'json')) as unknown[]).length, 1);

  // service ps asks for brief tasks: no spec, no probe results; the rest as inspect has them.
  const inspect = (brief: boolean) =>
    unary<{ name: string; brief: boolean }, wire.ServiceDetailOut>(control.InspectService, control, {
      name: 'web',
      brief,
    });
  const [full, brief] = [await inspect(false), await inspect(true)];
  assert.equal(brief.tasks.length, full.tasks.length);
  assert.ok(brief.tasks.every((x) => x.spec === null && x.health.length === 0));
  assert.ok(full.tasks.every((x) => x.spec?.image === TEST_IMAGE));
  assert.deepEqual(
    brief.tasks.map((x) => [x.id, x.state, x.healthStatus, x.nodeName]),
    full.tasks.map((x) => [x.id, x.state, x.healthStatus, x.nodeName]),
  );

  // Reports that arrive together are written together, and each is answered on its own: the
  // refused ones change nothing, the good one is written.
  const together = await Promise.all([
    code(report({ nodeId, taskId: 'nope', state: 'running' })),
    code(report({ nodeId: otherId, taskId: task!.id, state: 'failed' }, other)),
    code(report({ nodeId, taskId: task!.id, state: 'starting' })),
    code(report({ nodeId, taskId: task!.id, state: 'failed', error: 'told so', hasExitCode: true, exitCode: 3 })),
  ]);
  assert.deepEqual(
    together.map(([status]) => status),
    [grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION, grpc.status.FAILED_PRECONDITION, grpc.status.OK],
  );
  const failed = (await c.tasks('web')).find((x) => x.id === task!.id)!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error, 'told so');

  // A node's reports in one call: each answered; the batch's node is the caller's.
  const batch = (req: wire.TaskStatusBatch, client = workers) =>
    unary<wire.TaskStatusBatch, wire.TaskStatusBatchAckOut>(client.UpdateTaskStatuses, client, req);
  const [next] = await c.waitRunning('web', 1);
  const ack = await batch({
    nodeId,
    updates: [
      { taskId: 'nope', state: 'running' },
      { taskId: next!.id, state: 'exploded' },
      { nodeId: otherId, taskId: next!.id, state: 'complete', hasExitCode: true, exitCode: 0 },
    ],
  });
  assert.deepEqual(
    ack.outcomes.map((o) => [o.taskId, o.code]),
    [
      ['nope', grpc.status.NOT_FOUND],
      [next!.id, grpc.status.INVALID_ARGUMENT],
      [next!.id, grpc.status.OK],
    ],
  );
  assert.match(ack.outcomes[1]!.error, /state/);
  assert.equal((await c.tasks('web')).find((x) => x.id === next!.id)!.state, 'complete');
  assert.equal((await code(batch({ nodeId: otherId, updates: [] })))[0], grpc.status.UNAUTHENTICATED);
  const tooMany = Array.from({ length: 1001 }, () => ({ taskId: 'nope', state: 'running' }));
  const [tooManyCode, tooManyWhy] = await code(batch({ nodeId, updates: tooMany }));
  assert.equal(tooManyCode, grpc.status.INVALID_ARGUMENT);
  assert.match(tooManyWhy, /updates 1001: at most 1000 in one call/);

  // Heartbeats on their stream: a beat for another node, or without a node certificate, ends it.
  const beats = (client: wire.WorkerServiceClient, beat: { nodeId: string }) =>
    new Promise<[grpc.status, string]>((resolve) => {
      const call = client.Heartbeats();
      call.on('data', () => {
        call.cancel();
        resolve([grpc.status.OK, '']);
      });
      call.on('error', (err: grpc.ServiceError) => resolve([err.code, err.details]));
      call.write(beat);
    });
  assert.deepEqual(await beats(workers, { nodeId }), [grpc.status.OK, '']);
  assert.deepEqual(await beats(workers, { nodeId: otherId }), [
    grpc.status.UNAUTHENTICATED,
    `node ${nodeId} cannot speak for node "${otherId}"`,
  ]);
  assert.equal((await beats(stranger, { nodeId }))[0], grpc.status.UNAUTHENTICATED);
});
