import type { Logger } from 'pino';
import {
  FailedPreconditionError,
  NotFoundError,
  ValidationError,
  isRolling,
  validateRegistryAuth,
  validateServiceSpec,
  type Service,
  type UpdateState,
  type UpdateStatus,
} from '@warren/core';
import { registryAuthFromWire, serviceToWire, specFromWire, unaryHandler, type wire } from '@warren/api';
import type { ImageQueries } from './image-queries.js';
import { resolveImage } from './image-resolution.js';
import type { NodeSessions } from '../workers/node-sessions.js';
import { checkCpusExist } from './resource-checks.js';
import type { Change, Store, StoreView } from '../store/store.js';

export interface UpdateDeps {
  store: Store;
  sessions: NodeSessions;
  now: () => number;
  imageQueries: ImageQueries;
  logger: Logger;
  /** Refuses a published port another service holds. */
  checkPortsFree: (view: StoreView, service: Service['spec'], except: string) => void;
}

/**
 * UpdateService and RollbackService: a new spec (or the previous one) and a rollout that starts
 * with it, written together; the reconciler rolls the tasks over, gated by their health.
 */
export function updateHandlers(
  deps: UpdateDeps,
): Pick<wire.ControlServiceHandlers, 'UpdateService' | 'RollbackService'> {
  const { store, sessions, now, logger } = deps;

  const find = (view: StoreView, ref: string): Service => {
    if (ref === '') throw new ValidationError('service name', ref, 'is required');
    const service = view.serviceByName(ref) ?? view.service(ref);
    if (!service) throw new NotFoundError('service', ref);
    return service;
  };
  const status = (state: UpdateState, message: string): UpdateStatus => ({
    state,
    startedAt: now(),
    completedAt: 0,
    message,
    succeeded: [],
    failed: [],
    batchDoneAt: 0,
  });

  return {
    UpdateService: unaryHandler('UpdateService', logger, async (req: wire.UpdateServiceRequestOut) => {
      const asked = validateServiceSpec(specFromWire(req.spec));
      const auth = registryAuthFromWire(req.registryAuth);
      if (auth) validateRegistryAuth(auth);
      const current = find(store, req.name);
      checkCpusExist(store, asked);
      if (asked.name !== current.spec.name) {
        throw new ValidationError('name', asked.name, `a service cannot be renamed (it is ${current.spec.name})`);
      }
      // A new tag is pinned to a digest as at create; the image in use stays as it is.
      let image = asked.image;
      let note = current.imageNote ?? '';
      if (asked.image !== current.spec.image) {
        const ready = [...store.nodes()].filter((n) => sessions.isReady(n.id) && sessions.engine(n.id).ok);
        ({ image, note } = await resolveImage(asked, auth, ready, deps.imageQueries));
      }
      const spec = { ...asked, image };
      const updated = await store.mutate((view) => {
        const service = find(view, req.name);
        deps.checkPortsFree(view, spec, service.id);
        const next: Service = {
          ...service,
          spec,
          previousSpec: service.spec,
          update: status('updating', 'update in progress'),
          updatedAt: now(),
          ...(note ? { imageNote: note } : { imageNote: '' }),
        };
        const changes: Change[] = [
          { kind: 'putService', service: next },
          {
            kind: 'event',
            event: {
              type: 'update-started',
              serviceId: service.id,
              service: service.spec.name,
              reason: `to ${spec.image}, ${spec.update.parallelism || 'all'} at a time, ${spec.update.order}`,
            },
          },
        ];
        if (auth) changes.push({ kind: 'putAuth', serviceId: service.id, auth });
        return { changes, result: next };
      });
      logger.debug({ service: updated.spec.name, image: updated.spec.image }, 'service update started');
      return serviceToWire(updated, store.registryAuth(updated.id) !== undefined);
    }),

    RollbackService: unaryHandler('RollbackService', logger, async (req: { name: string }) => {
      const updated = await store.mutate((view) => {
        const service = find(view, req.name);
        if (!service.previousSpec) {
          throw new FailedPreconditionError(`service ${service.spec.name} has no previous spec to roll back to`);
        }
        const from = isRolling(service.update) ? ` (stopping the rollout in progress)` : '';
        const next: Service = {
          ...service,
          spec: service.previousSpec,
          previousSpec: service.spec,
          update: status('rollback_started', `manually requested rollback${from}`),
          updatedAt: now(),
        };
        const event: Change = {
          kind: 'event',
          event: {
            type: 'rollback-started',
            serviceId: service.id,
            service: service.spec.name,
            reason: `back to ${service.previousSpec.image}: requested${from}`,
          },
        };
        return { changes: [{ kind: 'putService', service: next }, event], result: next };
      });
      logger.debug({ service: updated.spec.name, image: updated.spec.image }, 'service rollback started');
      return serviceToWire(updated, store.registryAuth(updated.id) !== undefined);
    }),
  };
}
