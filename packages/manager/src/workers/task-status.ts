import * as grpc from '@grpc/grpc-js';
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
import { healthSpecFromWire, toServiceError, unaryHandler, type wire } from '@warren/api';
import { TaskStatusIngest, type StatusReport } from './status-ingest.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { AuthenticatedCall } from './worker-service.js';

const MAX_TEXT = 4096;
const MAX_PORTS = 64;
const MAX_BATCH = 1000;
const HOST_PORT = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;

/**
 * UpdateTaskStatus and UpdateTaskStatuses: a worker reports what it observed of its own tasks,
 * forward in state only; with `running`, where the container and its published ports can be
 * reached. One report per call, or a node's pending reports in one call, each answered on its
 * own. Checked for form here; judged against the task and written, in batches, by status-ingest.ts.
 */
export function taskStatusHandlers(
  deps: { store: Store; now: () => number; logger: Logger },
  /** The calling node's record, when its certificate speaks for `nodeId`; throws otherwise. */
  authenticate: (call: AuthenticatedCall, nodeId: string) => NodeRecord,
): Pick<wire.WorkerServiceHandlers, 'UpdateTaskStatus' | 'UpdateTaskStatuses'> {
  const statuses = new TaskStatusIngest(deps.store, deps.now, deps.logger);
  return {
    UpdateTaskStatus: unaryHandler('UpdateTaskStatus', deps.logger, async (req: wire.TaskStatusUpdateOut, call) => {
      authenticate(call, req.nodeId);
      await statuses.submit(reportFromWire(req, req.nodeId));
      return {};
    }),

    UpdateTaskStatuses: unaryHandler('UpdateTaskStatuses', deps.logger, async (req: wire.TaskStatusBatchOut, call) => {
      authenticate(call, req.nodeId);
      if (req.updates.length > MAX_BATCH)
        throw new ValidationError('updates', req.updates.length, `at most ${MAX_BATCH} in one call`);
      const outcomes = await Promise.all(
        req.updates.map(async (update): Promise<wire.TaskStatusOutcome> => {
          try {
            await statuses.submit(reportFromWire(update, req.nodeId));
            return { taskId: update.taskId, code: grpc.status.OK, error: '' };
          } catch (err) {
            const status = toServiceError(err);
            return { taskId: update.taskId, code: status.code ?? grpc.status.UNKNOWN, error: status.details ?? '' };
          }
        }),
      );
      return { outcomes };
    }),
  };
}

/** A report as the worker sent it, checked for form (the node is the caller's, whatever it says). */
function reportFromWire(req: wire.TaskStatusUpdateOut, nodeId: string): StatusReport {
  const state = req.state;
  if (!isTaskState(state) || !WORKER_STATES.has(state)) {
    throw new ValidationError('state', state, `a worker reports one of ${[...WORKER_STATES].join(', ')}`);
  }
  if (req.message.length > MAX_TEXT || req.error.length > MAX_TEXT)
    throw new ValidationError('message', '…', `at most ${MAX_TEXT} characters`);
  const imageCheck = imageCheckFromWire(req.imageCheck);
  const ports = state === 'running' && req.ports.length > 0 ? portsFromWire(req.ports) : undefined;
  return {
    ...{ nodeId, taskId: req.taskId, state, message: req.message, error: req.error },
    ...{ containerId: req.containerId, address: req.address },
    ...(req.hasExitCode ? { exitCode: req.exitCode } : {}),
    ...(ports ? { ports } : {}),
    ...(imageCheck ? { imageCheck } : {}),
  };
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
