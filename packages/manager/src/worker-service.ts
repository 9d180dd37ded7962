import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { NotFoundError, UnauthenticatedError, ValidationError } from '@warren/core';
import { TOKEN_METADATA_KEY, toServiceError, unaryHandler, type wire } from '@warren/api';
import { assignments } from './assignments.js';
import { taskStatusHandler } from './task-status.js';
import type { HealthIngest } from './health-ingest.js';
import type { ImageQueries } from './image-queries.js';
import type { IngressTables } from './ingress.js';
import type { TaskDispatch } from './task-dispatch.js';
import type { NodeSessions } from './node-sessions.js';
import type { NodeRecord, Store } from './store.js';

export interface WorkerDeps {
  store: Store;
  sessions: NodeSessions;
  token: string;
  now: () => number;
  newId: () => string;
  /** Called when a node connects or goes away: the scheduler has new options. */
  onNodeChange: () => void;
  /** Called when a worker's stream opens, before it gets its assignments: declares the node ready. */
  onConnect: () => Promise<void>;
  health: HealthIngest;
  /** Questions asked of nodes' engines about images, waiting for their answers. */
  imageQueries: ImageQueries;
  /** Open health streams, for the metrics. */
  streams: { health: number };
  /** The ingress table every worker's proxy follows, and their acks. */
  ingress: IngressTables;
  /** Task changes to workers, stops held back while they drain. */
  dispatch: TaskDispatch;
  logger: Logger;
}

const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const MAX_IMAGES = 10_000;
const MAX_TEXT = 4096;

/**
 * WorkerService: what worker agents call. Every call is authenticated with the join token,
 * and a worker may only report on tasks assigned to its own node, forward in state.
 */
export function workerServiceHandlers(deps: WorkerDeps): wire.WorkerServiceHandlers {
  const { store, sessions, now, newId, logger } = deps;
  const expected = Buffer.from(deps.token);

  const checkToken = (token: string): void => {
    const given = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new UnauthenticatedError('invalid join token (use the token the manager printed when it started)');
    }
  };
  const authenticate = (metadata: grpc.Metadata): void => {
    const value = metadata.get(TOKEN_METADATA_KEY)[0];
    checkToken(typeof value === 'string' ? value : '');
  };
  const findNode = (id: string): NodeRecord => {
    const node = store.node(id);
    if (!node) throw new NotFoundError('node', id);
    return node;
  };
  const checkImages = (images: string[]): string[] => {
    if (images.length > MAX_IMAGES) throw new ValidationError('images', images.length, `at most ${MAX_IMAGES}`);
    return images.filter((i) => i !== '');
  };

  return {
    Register: unaryHandler('Register', logger, async (req: wire.RegisterRequestOut) => {
      checkToken(req.token);
      if (!NODE_NAME.test(req.name)) {
        throw new ValidationError(
          '--name',
          req.name,
          'use 1-63 letters, digits, ".", "-" or "_", starting with a letter or digit',
        );
      }
      const images = checkImages(req.images);
      for (const [flag, ip] of [
        ['--advertise-addr', req.address],
        ['--ingress-addr', req.ingressAddress],
      ] as const) {
        if (ip !== '' && isIP(ip) === 0) throw new ValidationError(flag, ip.slice(0, 80), 'not an IP address');
      }
      const addresses = { address: req.address, ingressAddress: req.ingressAddress };
      const node = await store.mutate((view) => {
        const t = now();
        const existing = view.nodeByName(req.name);
        const record: NodeRecord = existing
          ? { ...existing, hostname: req.hostname, images, lastSeenAt: t, ...addresses }
          : {
              ...addresses,
              id: newId(),
              name: req.name,
              hostname: req.hostname,
              registeredAt: t,
              lastSeenAt: t,
              images,
              availability: 'active',
              status: 'down',
              history: [],
            };
        return { changes: [{ kind: 'putNode', node: record }], result: record };
      });
      logger.info({ node: node.name, id: node.id }, 'worker registered');
      return { nodeId: node.id, heartbeatIntervalMs: sessions.heartbeatIntervalMs };
    }),

    Heartbeat: unaryHandler(
      'Heartbeat',
      logger,
      async (req: { nodeId: string; engineUnreachable: boolean; engineMessage: string }, call) => {
        authenticate(call.metadata);
        findNode(req.nodeId);
        const wasReady = sessions.isReady(req.nodeId);
        sessions.heartbeat(req.nodeId, { ok: !req.engineUnreachable, message: req.engineMessage.slice(0, 300) });
        if (!wasReady && sessions.isReady(req.nodeId)) deps.onNodeChange();
        return { heartbeatIntervalMs: sessions.heartbeatIntervalMs };
      },
    ),

    Assignments: (call: grpc.ServerWritableStream<{ nodeId: string }, wire.AssignmentsMessage>) => {
      let node: NodeRecord;
      try {
        authenticate(call.metadata);
        node = findNode(call.request.nodeId);
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      sessions.attach(node.id, call);
      void deps
        .onConnect()
        .catch((err: unknown) => logger.error({ err }, 'node check failed'))
        .then(() => {
          // A task draining still runs as far as its worker knows; the table comes with the tasks.
          const tasks = store.tasksOfNode(node.id).map((t) => deps.dispatch.view(t));
          call.write({ ...assignments(store, node.name, tasks, [], true), ingress: deps.ingress.table });
          logger.info({ node: node.name, tasks: tasks.length }, 'worker connected');
          deps.onNodeChange();
        });
      const gone = (): void => {
        if (!sessions.detach(node.id, call)) return;
        logger.warn({ node: node.name }, 'worker disconnected');
        deps.onNodeChange();
      };
      call.on('cancelled', gone);
      call.on('close', gone);
      call.on('error', gone);
    },

    UpdateTaskStatus: taskStatusHandler(deps, authenticate, findNode),

    ReportHealth: (call: grpc.ServerDuplexStream<wire.HealthBatchOut, wire.HealthAck>) => {
      try {
        authenticate(call.metadata);
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      deps.streams.health++;
      let open = true;
      const closed = (): void => {
        if (open) deps.streams.health--;
        open = false;
      };
      call.on('close', closed);
      call.on('cancelled', closed);
      call.on('data', (batch: wire.HealthBatchOut) => {
        if (!store.node(batch.nodeId)) {
          call.emit('error', toServiceError(new NotFoundError('node', batch.nodeId)));
          return;
        }
        deps.health.submit(batch.nodeId, batch).then(
          (rejected) => {
            if (rejected > 0) logger.warn({ node: batch.nodeId, seq: batch.seq, rejected }, 'health updates refused');
            call.write({ seq: batch.seq, rejected });
          },
          () => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the store could not write health' }),
        );
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },

    AnswerImageQuery: unaryHandler('AnswerImageQuery', logger, async (req: wire.ImageQueryAnswerOut, call) => {
      authenticate(call.metadata);
      findNode(req.nodeId);
      if (req.error.length > MAX_TEXT) throw new ValidationError('error', '…', `at most ${MAX_TEXT} characters`);
      if (req.digest !== '' && !/^sha256:[0-9a-f]{64}$/.test(req.digest)) {
        throw new ValidationError('digest', req.digest.slice(0, 80), 'not a sha256: digest');
      }
      if (!['', 'not-found', 'access-denied', 'unreachable', 'other'].includes(req.errorKind)) {
        throw new ValidationError('error_kind', req.errorKind.slice(0, 40), 'not one Warren knows');
      }
      if (!deps.imageQueries.answer(req.nodeId, req)) throw new NotFoundError('image query', req.id);
      return {};
    }),

    AckIngress: unaryHandler('AckIngress', logger, async (req: wire.IngressAckOut, call) => {
      authenticate(call.metadata);
      findNode(req.nodeId);
      if (!Number.isSafeInteger(req.version) || req.version < 0 || req.version > deps.ingress.version) {
        throw new ValidationError(
          'version',
          req.version,
          `not a version this manager sent (newest ${deps.ingress.version})`,
        );
      }
      if (req.bindErrors.length > 1000)
        throw new ValidationError('bind_errors', req.bindErrors.length, 'at most 1000');
      const bindErrors = req.bindErrors.map((e) => {
        if (!Number.isInteger(e.published) || e.published < 1 || e.published > 65_535)
          throw new ValidationError('bind_errors.published', e.published, 'not a port number');
        return { published: e.published, error: e.error.slice(0, 300) };
      });
      deps.ingress.ack(req.nodeId, req.version, bindErrors);
      return {};
    }),

    UpdateNodeImages: unaryHandler(
      'UpdateNodeImages',
      logger,
      async (req: { nodeId: string; images: string[] }, call) => {
        authenticate(call.metadata);
        const images = checkImages(req.images);
        await store.mutate((view) => {
          const node = view.node(req.nodeId);
          if (!node) throw new NotFoundError('node', req.nodeId);
          return { changes: [{ kind: 'putNode', node: { ...node, images } }], result: undefined };
        });
        deps.onNodeChange();
        return {};
      },
    ),
  };
}
