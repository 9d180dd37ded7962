import type { Logger } from 'pino';
import {
  AlreadyExistsError,
  NotFoundError,
  ValidationError,
  isTerminal,
  validateReplicas,
  validateRegistryAuth,
  validateServiceSpec,
  type PublishedPort,
  type Service,
  type Task,
} from '@warren/core';
import {
  VERSION,
  registryAuthFromWire,
  serviceToWire,
  specFromWire,
  taskToWire,
  unaryHandler,
  type wire,
} from '@warren/api';
import { endpointsOf, replacementState } from '../ingress/endpoints.js';
import { watchHandlers } from './watch.js';
import { updateHandlers } from './service-update.js';
import { clusterHandlers } from './cluster.js';
import { nodeWire } from '../workers/node-wire.js';
import type { ClusterPki } from '../pki/cluster-pki.js';
import type { ImageQueries } from './image-queries.js';
import type { LogRelay } from './logs.js';
import type { IngressTables } from '../ingress/tables.js';
import { resolveImage } from './image-resolution.js';
import { checkCpusExist } from './resource-checks.js';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { Change, NodeRecord, Store, StoreView } from '../store/store.js';

export interface ControlDeps {
  store: Store;
  sessions: NodeSessions;
  now: () => number;
  newId: () => string;
  logger: Logger;
  /** When this manager process started (ms), for Version. */
  startedAt: number;
  /** Questions to nodes' engines: a new service's image is pinned through one. */
  imageQueries: ImageQueries;
  /** The ingress table's view of which nodes cannot listen on which published ports. */
  ingress: Pick<IngressTables, 'problems' | 'nodeUp'>;
  pki: ClusterPki;
  /** Serving the manager's local socket (its owner) rather than a remote client over TLS. */
  local: boolean;
  managers: { list(): Promise<wire.ManagersInfo> };
  /** `service logs`: the output of tasks, from their nodes. */
  logs: Pick<LogRelay, 'serve'>;
}

/** ControlService: what the CLI calls. Every request is validated before anything is written. */
export function controlServiceHandlers(deps: ControlDeps): wire.ControlServiceHandlers {
  const { store, sessions, now, newId, logger, startedAt } = deps;

  const nodeName = (id: string): string => (id === '' ? '' : (store.node(id)?.name ?? id));

  const findNode = (view: StoreView, ref: string): NodeRecord => {
    const node = view.nodeByName(ref) ?? view.node(ref);
    if (!node || node.removedAt) throw new NotFoundError('node', ref);
    return node;
  };

  const nodeToWire = (n: NodeRecord, withHistory: boolean): wire.Node => nodeWire(store, sessions, n, withHistory);
  const tasksOf = (service: Service, brief = false): wire.Task[] =>
    store
      .tasksOfService(service.id)
      .sort(bySlotNewestFirst)
      .map((t) => taskToWire(t, nodeName(t.nodeId), store.health(t.id), brief));

  return {
    ServiceLogs: (call) => deps.logs.serve(call),
    CreateService: unaryHandler('CreateService', logger, async (req: wire.CreateServiceRequestOut) => {
      const asked = validateServiceSpec(specFromWire(req.spec));
      const auth = registryAuthFromWire(req.registryAuth);
      if (auth) validateRegistryAuth(auth);
      if (store.serviceByName(asked.name)) throw new AlreadyExistsError('service', asked.name);
      checkCpusExist(store, asked);
      const ready = [...store.nodes()].filter((n) => sessions.isReady(n.id) && sessions.engine(n.id).ok);
      const { image, note } = await resolveImage(asked, auth, ready, deps.imageQueries);
      const spec = { ...asked, image };
      checkPortsFree(store, spec.ports);
      const service = await store.mutate((view) => {
        if (view.serviceByName(spec.name)) throw new AlreadyExistsError('service', spec.name);
        checkPortsFree(view, spec.ports);
        const t = now();
        const created: Service = {
          id: newId(),
          spec,
          createdAt: t,
          updatedAt: t,
          ...(note ? { imageNote: note } : {}),
        };
        const event: Change = {
          kind: 'event',
          event: {
            type: 'service-created',
            serviceId: created.id,
            service: spec.name,
            reason: `${spec.replicas} replica${spec.replicas === 1 ? '' : 's'} of ${spec.image}`,
          },
        };
        const changes: Change[] = [{ kind: 'putService', service: created }, event];
        if (auth) changes.push({ kind: 'putAuth', serviceId: created.id, auth });
        return { changes, result: created };
      });
      logger.debug(
        {
          service: spec.name,
          id: service.id,
          replicas: spec.replicas,
          image: spec.image,
          imageNote: note || undefined,
        },
        'service created',
      );
      return serviceToWire(service, auth !== undefined);
    }),

    ListServices: unaryHandler('ListServices', logger, async () => {
      const services = [...store.services()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
      const running = new Map<string, number>();
      for (const t of store.tasks()) {
        if (t.state === 'running' && t.desiredState === 'running')
          running.set(t.serviceId, (running.get(t.serviceId) ?? 0) + 1);
      }
      return {
        services: services.map((s) => ({
          service: serviceToWire(s),
          running: running.get(s.id) ?? 0,
          desired: s.spec.replicas,
        })),
      };
    }),

    InspectService: unaryHandler('InspectService', logger, async (req: { name: string; brief: boolean }) => {
      const service = findService(store, req.name);
      return {
        service: serviceToWire(service, store.registryAuth(service.id) !== undefined),
        tasks: tasksOf(service, req.brief),
        endpoints: endpointsOf(store, service, deps.ingress.nodeUp),
        ...replacementState(store, service),
        ingressProblems: deps.ingress.problems(service),
      };
    }),

    GetEndpoints: unaryHandler('GetEndpoints', logger, async (req: { name: string }) => {
      const service = findService(store, req.name);
      return { service: service.spec.name, endpoints: endpointsOf(store, service, deps.ingress.nodeUp), atMs: now() };
    }),

    ...watchHandlers(store, now, (ref) => findService(store, ref), deps.ingress.nodeUp),

    ...clusterHandlers({ ...deps, nodeToWire: (n) => nodeToWire(n, false) }),

    ...updateHandlers({
      store,
      sessions,
      now,
      imageQueries: deps.imageQueries,
      logger,
      checkPortsFree: (view, spec, except) => checkPortsFree(view, spec.ports, except),
    }),

    ListTasks: unaryHandler('ListTasks', logger, async (req: { service: string }) => {
      return { tasks: tasksOf(findService(store, req.service)) };
    }),

    ScaleService: unaryHandler('ScaleService', logger, async (req: { name: string; replicas: number }) => {
      validateReplicas(req.replicas);
      const service = await store.mutate((view) => {
        const found = findService(view, req.name);
        const scaled: Service = { ...found, spec: { ...found.spec, replicas: req.replicas }, updatedAt: now() };
        const event: Change = {
          kind: 'event',
          event: {
            type: 'service-scaled',
            serviceId: found.id,
            service: found.spec.name,
            reason: `${found.spec.replicas} → ${req.replicas} replicas`,
          },
        };
        return { changes: [{ kind: 'putService', service: scaled }, event], result: scaled };
      });
      logger.debug({ service: service.spec.name, replicas: req.replicas }, 'service scaled');
      return serviceToWire(service, store.registryAuth(service.id) !== undefined);
    }),

    RemoveService: unaryHandler('RemoveService', logger, async (req: { name: string }) => {
      const service = await store.mutate((view) => {
        const found = findService(view, req.name);
        const event: Change = {
          kind: 'event',
          event: { type: 'service-removed', serviceId: found.id, service: found.spec.name, reason: 'removed' },
        };
        return { changes: [{ kind: 'deleteService', service: found }, event], result: found };
      });
      logger.debug({ service: service.spec.name, id: service.id }, 'service removed');
      return serviceToWire(service);
    }),

    ListNodes: unaryHandler('ListNodes', logger, async () => {
      const nodes = [...store.nodes()].filter((n) => !n.removedAt).sort((a, b) => (a.name < b.name ? -1 : 1));
      return { nodes: nodes.map((n) => nodeToWire(n, false)) };
    }),

    InspectNode: unaryHandler('InspectNode', logger, async (req: { name: string }) =>
      nodeToWire(findNode(store, req.name), true),
    ),

    SetNodeAvailability: unaryHandler(
      'SetNodeAvailability',
      logger,
      async (req: { name: string; availability: string }) => {
        if (req.availability !== 'active' && req.availability !== 'drain')
          throw new ValidationError('availability', req.availability, 'use active or drain');
        const availability = req.availability;
        const node = await store.mutate((view) => {
          const found = findNode(view, req.name);
          if ((found.availability ?? 'active') === availability) return { changes: [], result: found };
          const at = now();
          const reason =
            availability === 'drain'
              ? 'drained by the operator: tasks move to other nodes'
              : 'activated by the operator';
          const updated: NodeRecord = {
            ...found,
            availability,
            history: [...(found.history ?? []), { at, status: availability, reason }].slice(-20),
          };
          const event: Change = {
            kind: 'event',
            event: {
              type: availability === 'drain' ? 'node-drain' : 'node-active',
              serviceId: '',
              service: '',
              nodeId: found.id,
              reason: `${found.name}: ${reason}`,
            },
          };
          return { changes: [{ kind: 'putNode', node: updated }, event], result: updated };
        });
        logger.debug({ node: node.name, availability }, 'node availability');
        return nodeToWire(node, true);
      },
    ),

    Version: unaryHandler('Version', logger, async (): Promise<wire.VersionInfo> => {
      return {
        version: VERSION,
        nodeVersion: process.version,
        os: process.platform,
        arch: process.arch,
        startedAtMs: startedAt,
      };
    }),
  };
}

/** Refuses a published port that another service holds (checked again inside the write). */
export function checkPortsFree(view: StoreView, ports: readonly PublishedPort[], except = ''): void {
  for (const p of ports) {
    for (const other of view.services()) {
      if (other.id === except) continue;
      if (other.spec.ports.some((q) => q.published === p.published)) {
        const given = `published=${p.published},target=${p.target}`;
        throw new ValidationError(
          '--publish',
          given,
          `port ${p.published} is already published by service ${other.spec.name}`,
        );
      }
    }
  }
}

/** A service by name or id; NOT_FOUND when there is none. */
function findService(view: StoreView, ref: string): Service {
  if (ref === '') throw new ValidationError('service name', ref, 'is required');
  const service = view.serviceByName(ref) ?? view.service(ref);
  if (!service) throw new NotFoundError('service', ref);
  return service;
}

function bySlotNewestFirst(a: Task, b: Task): number {
  return a.slot - b.slot || b.createdAt - a.createdAt;
}
