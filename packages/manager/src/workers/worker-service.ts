import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { NotFoundError, UnauthenticatedError, ValidationError, type Capacity } from '@warren/core';
import { callIdentity, identityOfPem, toServiceError, unaryHandler, type wire } from '@warren/api';
import type { ClusterPki } from '../pki/cluster-pki.js';
import { assignments } from './assignments.js';
import { heartbeatHandlers, type Authenticate } from './heartbeats.js';
import { taskStatusHandlers } from './task-status.js';
import type { HealthIngest } from './health-ingest.js';
import type { ImageQueries } from '../control/image-queries.js';
import type { LogRelay } from '../control/logs.js';
import type { IngressTables } from '../ingress/tables.js';
import { bindErrorFromWire } from '../ingress/bind-errors.js';
import type { TaskDispatch } from './task-dispatch.js';
import type { NodeSessions } from './node-sessions.js';
import type { NodeRecord, Store } from '../store/store.js';

export interface WorkerDeps {
  store: Store;
  sessions: NodeSessions;
  /** The join secret and the CA that signs nodes' certificates. */
  pki: ClusterPki;
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
  /** Workers' output for `service logs`, passed on to the CLI. */
  logs: Pick<LogRelay, 'receive'>;
  logger: Logger;
}

const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const MAX_IMAGES = 10_000;
const MAX_TEXT = 4096;

/** What WorkerService handlers need of a call to know who made it. */
export type AuthenticatedCall = Parameters<typeof callIdentity>[0] & { getPeer(): string };

/**
 * WorkerService: what worker agents call, over mutual TLS. Every call presents a node
 * certificate of this cluster and may speak only for that node (a first Register presents the
 * join secret instead); a worker may only report on tasks assigned to its own node, forward in state.
 */
export function workerServiceHandlers(deps: WorkerDeps): wire.WorkerServiceHandlers {
  const { store, sessions, now, newId, logger, pki } = deps;

  const refuse = (call: AuthenticatedCall, why: string): never => {
    logger.warn({ peer: call.getPeer(), reason: why }, 'worker call refused');
    throw new UnauthenticatedError(why);
  };
  /** The node the call's certificate speaks for, when it is `nodeId` and still in the cluster. */
  const authenticate: Authenticate = (call, nodeId, id = callIdentity(call)) => {
    if (!id || id.role !== 'worker')
      return refuse(call, 'a node certificate of this cluster is required (join with a token)');
    const node = store.node(id.id);
    if (!node || node.removedAt) {
      return refuse(call, `node ${id.id} was removed from the cluster: its certificate is revoked`);
    }
    if (nodeId !== id.id)
      return refuse(call, `node ${id.id} cannot speak for node ${JSON.stringify(nodeId.slice(0, 64))}`);
    return node;
  };
  const checkImages = (images: string[]): string[] => {
    if (images.length > MAX_IMAGES) throw new ValidationError('images', images.length, `at most ${MAX_IMAGES}`);
    return images.filter((i) => i !== '');
  };

  return {
    Register: unaryHandler('Register', logger, async (req: wire.RegisterRequestOut, call) => {
      const id = callIdentity(call);
      if (id?.role !== 'worker' && !pki.admits(req.token)) {
        refuse(call, 'invalid join token (warren join-token on the manager shows the current one)');
      }
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
      // What the worker tells of its node: where it is reached, what its engine has.
      const told = { address: req.address, ingressAddress: req.ingressAddress, ...capacityOf(req.capacity) };
      // A node that joined before comes back with its certificate; one joining gets a certificate
      // for the key of its CSR (signed before anything is stored: a bad request stores nothing).
      const record = id?.role === 'worker' ? store.node(id.id) : undefined;
      const known = record?.removedAt ? undefined : record;
      if (id?.role === 'worker' && !known)
        refuse(call, `node ${id.id} was removed from the cluster: join again with a token`);
      const named = store.nodeByName(req.name);
      if (named && named.id !== known?.id && (known || sessions.isReady(named.id))) {
        throw new ValidationError('--name', req.name, 'another node of the cluster has this name');
      }
      const nodeId = known?.id ?? named?.id ?? newId();
      const certificate = known ? '' : await pki.sign(req.csr, nodeId, 'worker');
      const node = await store.mutate((view) => {
        const t = now();
        const existing = view.node(nodeId);
        const record: NodeRecord = existing
          ? {
              ...withoutCapacity(existing),
              name: req.name,
              hostname: req.hostname,
              images,
              lastSeenAt: t,
              ...told,
            }
          : {
              ...told,
              id: nodeId,
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
      logger.debug({ node: node.name, id: node.id, joined: !known }, known ? 'worker registered' : 'worker joined');
      return { nodeId: node.id, heartbeatIntervalMs: sessions.heartbeatIntervalMs, certificate };
    }),

    RenewCertificate: unaryHandler('RenewCertificate', logger, async (req: wire.RenewCertificateRequestOut, call) => {
      const node = authenticate(call, req.nodeId);
      const certificate = await pki.sign(req.csr, node.id, 'worker');
      logger.info({ node: node.name }, 'node certificate renewed');
      return { certificate, caCertificate: pki.ca.certPem, notAfterMs: identityOfPem(certificate)!.notAfter };
    }),

    ...heartbeatHandlers(deps, authenticate),

    Assignments: (call: grpc.ServerWritableStream<{ nodeId: string }, wire.AssignmentsMessage>) => {
      let node: NodeRecord;
      try {
        node = authenticate(call, call.request.nodeId);
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
          logger.debug({ node: node.name, tasks: tasks.length }, 'worker connected');
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

    ...taskStatusHandlers(deps, authenticate),

    ReportHealth: (call: grpc.ServerDuplexStream<wire.HealthBatchOut, wire.HealthAck>) => {
      const id = callIdentity(call);
      if (id?.role !== 'worker' || !store.node(id.id)) {
        try {
          refuse(call, 'a node certificate of this cluster is required');
        } catch (err) {
          call.emit('error', toServiceError(err));
        }
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
        if (batch.nodeId !== id.id || !store.node(batch.nodeId)) {
          const why = `node ${id.id} cannot report for node ${JSON.stringify(String(batch.nodeId).slice(0, 64))}`;
          call.emit('error', toServiceError(new UnauthenticatedError(why)));
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

    SendLogs: (call: grpc.ServerReadableStream<wire.LogChunkOut, wire.LogsDone>, callback) => {
      const id = callIdentity(call);
      const node = id?.role === 'worker' ? store.node(id.id) : undefined;
      if (!id || !node || node.removedAt) {
        logger.warn({ peer: call.getPeer() }, 'worker call refused');
        callback(toServiceError(new UnauthenticatedError('a node certificate of this cluster is required')), null);
        return;
      }
      deps.logs.receive(id.id, call, callback);
    },

    AnswerImageQuery: unaryHandler('AnswerImageQuery', logger, async (req: wire.ImageQueryAnswerOut, call) => {
      authenticate(call, req.nodeId);
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
      authenticate(call, req.nodeId);
      if (!Number.isSafeInteger(req.version) || req.version < 0 || req.version > deps.ingress.version) {
        throw new ValidationError(
          'version',
          req.version,
          `not a version this manager sent (newest ${deps.ingress.version})`,
        );
      }
      if (req.bindErrors.length > 1000)
        throw new ValidationError('bind_errors', req.bindErrors.length, 'at most 1000');
      const bindErrors = req.bindErrors.map((e) => bindErrorFromWire(e));
      deps.ingress.ack(req.nodeId, req.version, bindErrors);
      return {};
    }),

    UpdateNodeImages: unaryHandler(
      'UpdateNodeImages',
      logger,
      async (req: { nodeId: string; images: string[] }, call) => {
        authenticate(call, req.nodeId);
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

/** A node's capacity as its worker tells it; a value no engine has is refused, none is "not known". */
function capacityOf(c: wire.RegisterRequestOut['capacity']): { capacity?: Capacity } {
  if (!c || (c.nanoCpus === 0 && c.memoryBytes === 0)) return {};
  for (const [what, n] of [
    ['CPUs', c.nanoCpus],
    ['memory', c.memoryBytes],
  ] as const) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new ValidationError('capacity', n, `not an amount of ${what}`);
  }
  return { capacity: { nanoCpus: c.nanoCpus, memoryBytes: c.memoryBytes } };
}

function withoutCapacity(node: NodeRecord): NodeRecord {
  const { capacity: _, ...rest } = node;
  return rest;
}
