import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ValidationError,
  WORKER_STATES,
  isTaskState,
  probeRuns,
  validateProbe,
  type HealthSpec,
  type TaskPort,
} from '@warren/core';
import { healthSpecFromWire, unaryHandler, type wire } from '@warren/api';
import { TaskStatusIngest } from './status-ingest.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { AuthenticatedCall } from './worker-service.js';

const MAX_TEXT = 4096;
const MAX_PORTS = 64;
const HOST_PORT = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;

/**
 * UpdateTaskStatus: a worker reports what it observed of one of its own tasks, forward in
 * state only; with `running`, where the container and its published ports can be reached.
 * Checked for form here; judged against the task and written, in batches, by status-ingest.ts.
 */
export function taskStatusHandler(
  deps: { store: Store; now: () => number; logger: Logger },
  /** The calling node's record, when its certificate speaks for `nodeId`; throws otherwise. */
  authenticate: (call: AuthenticatedCall, nodeId: string) => NodeRecord,
): grpc.handleUnaryCall<wire.TaskStatusUpdateOut, Record<string, never>> {
  const statuses = new TaskStatusIngest(deps.store, deps.now, deps.logger);
  return unaryHandler('UpdateTaskStatus', deps.logger, async (req: wire.TaskStatusUpdateOut, call) => {
    authenticate(call, req.nodeId);
    const state = req.state;
    if (!isTaskState(state) || !WORKER_STATES.has(state)) {
      throw new ValidationError('state', state, `a worker reports one of ${[...WORKER_STATES].join(', ')}`);
    }
    if (req.message.length > MAX_TEXT || req.error.length > MAX_TEXT)
      throw new ValidationError('message', '…', `at most ${MAX_TEXT} characters`);
    const imageCheck = imageCheckFromWire(req.imageCheck);
    const ports = state === 'running' && req.ports.length > 0 ? portsFromWire(req.ports) : undefined;
    await statuses.submit({
      ...{ nodeId: req.nodeId, taskId: req.taskId, state, message: req.message, error: req.error },
      ...{ containerId: req.containerId, address: req.address },
      ...(req.hasExitCode ? { exitCode: req.exitCode } : {}),
      ...(ports ? { ports } : {}),
      ...(imageCheck ? { imageCheck } : {}),
    });
    return {};
  });
}

/** The image's HEALTHCHECK a worker reports for a task without checks: exec probes only. */
function imageCheckFromWire(wire: wire.HealthSpecOut | null): HealthSpec | undefined {
  if (!wire) return undefined;
  const health = healthSpecFromWire(wire);
  const runs = probeRuns(health);
  if (!health.fromImage || runs.length === 0 || runs.some((r) => r.probe.handler.kind !== 'exec'))
    throw new ValidationError('image_check', 'given', 'an image check is exec probes marked from_image');
  for (const run of runs) validateProbe(run.probe, 'image_check');
  if (JSON.stringify(health).length > MAX_TEXT)
    throw new ValidationError('image_check', '…', `at most ${MAX_TEXT} characters`);
  return health;
}

/** The published ports a worker reports, checked: a target port and `address:port` each. */
function portsFromWire(ports: readonly wire.TaskPortOut[]): TaskPort[] {
  if (ports.length > MAX_PORTS) throw new ValidationError('ports', ports.length, `at most ${MAX_PORTS}`);
  return ports.map((p) => {
    if (!Number.isInteger(p.target) || p.target < 1 || p.target > 65_535)
      throw new ValidationError('ports.target', p.target, 'not a port number');
    const port = Number(p.address.slice(p.address.lastIndexOf(':') + 1));
    if (!HOST_PORT.test(p.address) || port < 1 || port > 65_535) {
      throw new ValidationError('ports.address', p.address.slice(0, 80), 'not IP:PORT with a port from 1 to 65535');
    }
    return { target: p.target, address: p.address };
  });
}
