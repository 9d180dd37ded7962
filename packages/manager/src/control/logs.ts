/**
 * `warren service logs` through the manager: the CLI's ServiceLogs call is answered with the
 * output of the service's tasks from every node. The manager asks each node that ran them (a
 * LogsRequest on its assignment stream); the worker streams the lines back on a SendLogs call,
 * and they are passed on to the CLI with flow control: a worker's call is paused while the CLI's
 * is full, so a slow reader holds no log in the manager's memory.
 */
import { randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FailedPreconditionError, NotFoundError, ValidationError, validateServiceName, type Task } from '@warren/core';
import { toServiceError, type wire } from '@warren/api';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { Store } from '../store/store.js';

/** A node that does not start sending within this long is named as not answering. */
const ANSWER_PATIENCE_MS = 10_000;
const MAX_TAIL = 1_000_000;
const TASK_ID = /^[0-9a-f]{4,12}$/;
/** A worker's line longer than this is refused (workers cut lines at 16 KiB). */
const MAX_TEXT = 17_000;

type CliCall = grpc.ServerWritableStream<wire.ServiceLogsRequestOut, wire.LogLine>;
type WorkerCall = grpc.ServerReadableStream<wire.LogChunkOut, wire.LogsDone>;

/** One node's part of one CLI call. */
interface Request {
  id: string;
  nodeId: string;
  nodeName: string;
  cli: CliCall;
  tasks: Map<string, Task>;
  /** The worker's call came: it is not waited for any more. */
  started(): void;
  /** Ends the worker's call (answered) or marks the part done; called once. */
  finish(): void;
}

export class LogRelay {
  readonly #requests = new Map<string, Request>();

  constructor(
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    private readonly logger: Logger,
  ) {}

  /** ControlService.ServiceLogs. */
  serve(call: CliCall): void {
    let tasks: Task[];
    try {
      tasks = this.#tasksOf(call.request);
    } catch (err) {
      call.emit('error', toServiceError(err));
      return;
    }
    const { follow, sinceMs } = call.request;
    const tail = call.request.tail ?? undefined;
    const byNode = new Map<string, Task[]>();
    for (const t of tasks) byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
    const open = new Set<Request>();
    const done = (request: Request): void => {
      open.delete(request);
      this.#requests.delete(request.id);
      if (open.size === 0 && !follow) call.end();
    };
    for (const [nodeId, here] of byNode) {
      const nodeName = this.store.node(nodeId)?.name ?? nodeId;
      if (!this.sessions.isReady(nodeId)) {
        const notice = `node ${nodeName} is not connected: the output of ${here.length} task(s) there is not shown`;
        call.write({ notice });
        continue;
      }
      const id = randomBytes(8).toString('hex');
      let finished = false;
      const request: Request = {
        id,
        nodeId,
        nodeName,
        cli: call,
        tasks: new Map(here.map((t) => [t.id, t])),
        started: () => clearTimeout(patience),
        finish: () => {
          if (finished) return;
          finished = true;
          clearTimeout(patience);
          done(request);
        },
      };
      const patience = setTimeout(() => {
        call.write({ notice: `node ${nodeName} did not answer: the output of its tasks is not shown` });
        request.finish();
      }, ANSWER_PATIENCE_MS);
      open.add(request);
      this.#requests.set(id, request);
      const logs: wire.LogsRequest = {
        id,
        taskIds: here.map((t) => t.id),
        follow,
        sinceMs,
        ...(tail === undefined ? {} : { tail }),
      };
      this.sessions.send(nodeId, { logs: [logs] });
    }
    if (open.size === 0 && !follow) call.end();
    // The client went away (Ctrl-C, --follow ended): every worker's call is answered, so it stops.
    call.on('cancelled', () => [...open].forEach((r) => r.finish()));
  }

  /** WorkerService.SendLogs from `nodeId` (its certificate says so). */
  receive(nodeId: string, call: WorkerCall, callback: grpc.sendUnaryData<wire.LogsDone>): void {
    let request: Request | undefined;
    let answered = false;
    const answer = (err?: unknown): void => {
      if (answered) return;
      answered = true;
      callback(err ? toServiceError(err) : null, {});
      request?.finish();
    };
    call.on('data', (chunk: wire.LogChunkOut) => {
      try {
        if (!request) {
          request = this.#requests.get(chunk.requestId);
          if (!request || request.nodeId !== nodeId || chunk.nodeId !== nodeId)
            throw new NotFoundError('logs request', chunk.requestId.slice(0, 32));
          request.started();
          const finish = request.finish;
          request.finish = () => {
            finish();
            answer();
          };
        }
        if (answered) return;
        const lines = chunk.lines.map((l) => this.#line(request!, l));
        let room = true;
        for (const line of lines) room = request.cli.write(line) && room;
        if (!room) {
          call.pause();
          request.cli.once('drain', () => call.resume());
        }
      } catch (err) {
        this.logger.warn({ node: nodeId, err }, 'logs from a worker refused');
        answer(err);
      }
    });
    call.on('end', () => answer());
    call.on('error', () => answer());
  }

  /** A worker's line, checked, with what the manager knows of its task. */
  #line(request: Request, l: wire.LogLineOut): wire.LogLine {
    const task = request.tasks.get(l.taskId);
    if (!task)
      throw new FailedPreconditionError(`task ${l.taskId.slice(0, 32)} was not asked of node ${request.nodeName}`);
    if (l.stream !== 'stdout' && l.stream !== 'stderr')
      throw new ValidationError('stream', l.stream.slice(0, 16), 'stdout or stderr');
    if (l.text.length > MAX_TEXT) throw new ValidationError('text', '…', `at most ${MAX_TEXT} characters`);
    return {
      service: task.serviceName,
      taskId: task.id,
      slot: task.slot,
      nodeName: request.nodeName,
      stream: l.stream,
      atMs: l.atMs,
      text: l.text,
    };
  }

  /** The tasks a request names that have (or had) a container, by slot; a task alone by its id. */
  #tasksOf(req: wire.ServiceLogsRequestOut): Task[] {
    const { tail, sinceMs } = req;
    if (tail !== undefined && tail !== null && (!Number.isInteger(tail) || tail < 0 || tail > MAX_TAIL))
      throw new ValidationError('--tail', tail, `a number of lines from 0 to ${MAX_TAIL}, or all`);
    if (!Number.isSafeInteger(sinceMs) || sinceMs < 0) throw new ValidationError('--since', sinceMs, 'not a time');
    const service = this.store.serviceByName(validateServiceName(req.name));
    const ran = (t: Task): boolean => t.nodeId !== '' && t.containerId !== '';
    if (service)
      return this.store
        .tasksOfService(service.id)
        .filter(ran)
        .sort((a, b) => a.slot - b.slot);
    const tasks = TASK_ID.test(req.name) ? [...this.store.tasks()].filter((t) => t.id.startsWith(req.name)) : [];
    if (tasks.length > 1) throw new ValidationError('task', req.name, `${tasks.length} tasks start with it`);
    if (!tasks[0]) throw new NotFoundError('service or task', req.name);
    if (!ran(tasks[0])) throw new FailedPreconditionError(`task ${tasks[0].id} never had a container`);
    return tasks;
  }
}
