/**
 * The cluster's membership and trust on the ControlService: `node rm` (revocation), the join
 * token, and client certificates for remote CLIs (only on the manager's local socket).
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FailedPreconditionError, NotFoundError, ValidationError, isTerminal } from '@warren/core';
import { identityOfPem, unaryHandler, type wire } from '@warren/api';
import type { ClusterPki } from '../pki/cluster-pki.js';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { Change, NodeRecord, Store } from '../store/store.js';

export interface ClusterDeps {
  store: Store;
  sessions: NodeSessions;
  pki: ClusterPki;
  now: () => number;
  logger: Logger;
  /** The handlers serve the manager's local socket (its owner), not a remote client over TLS. */
  local: boolean;
  nodeToWire: (n: NodeRecord) => wire.Node;
  /** The managers and etcd's members, for ListManagers. */
  managers: { list(): Promise<wire.ManagersInfo> };
}

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function clusterHandlers(
  deps: ClusterDeps,
): Pick<wire.ControlServiceHandlers, 'RemoveNode' | 'JoinToken' | 'IssueCertificate' | 'ListManagers'> {
  const { store, sessions, pki, now, logger } = deps;
  return {
    RemoveNode: unaryHandler('RemoveNode', logger, async (req: { name: string; force: boolean }) => {
      const removed = await store.mutate((view) => {
        const node = view.nodeByName(req.name) ?? view.node(req.name);
        if (!node || node.removedAt) throw new NotFoundError('node', req.name);
        const running = view.tasksOfNode(node.id).filter((t) => t.desiredState === 'running' && !isTerminal(t.state));
        if (running.length > 0 && !req.force) {
          throw new FailedPreconditionError(
            `node ${node.name} has ${running.length} running task${running.length === 1 ? '' : 's'}: ` +
              `drain it first (warren node drain ${node.name}) or remove it with --force`,
          );
        }
        const at = now();
        const reason = 'removed from the cluster: its certificate is revoked';
        const record: NodeRecord = {
          ...node,
          removedAt: at,
          status: 'down',
          history: [...node.history, { at, status: 'removed', reason }].slice(-20),
        };
        const event: Change = {
          kind: 'event',
          event: {
            type: 'node-removed',
            serviceId: '',
            service: '',
            nodeId: node.id,
            reason: `${node.name}: ${reason}`,
          },
        };
        return { changes: [{ kind: 'putNode', node: record }, event], result: record };
      });
      sessions.revoke(removed.id, {
        code: grpc.status.UNAUTHENTICATED,
        details: 'this node was removed from the cluster',
      });
      logger.debug({ node: removed.name, id: removed.id }, 'node removed');
      return deps.nodeToWire(removed);
    }),

    JoinToken: unaryHandler('JoinToken', logger, async (req: { rotate: boolean; role: string }) => {
      if (req.role === 'manager') {
        if (pki.managerToken === undefined) {
          throw new FailedPreconditionError(
            'this manager runs alone, on LevelDB: other managers join a cluster on etcd ' +
              '(warren manager --store etcd://…)',
          );
        }
        return { token: req.rotate ? await pki.rotateManagerToken() : pki.managerToken };
      }
      if (req.role !== '' && req.role !== 'worker')
        throw new ValidationError('role', req.role, 'is worker or manager');
      return { token: req.rotate ? await pki.rotate() : pki.joinToken };
    }),

    ListManagers: unaryHandler('ListManagers', logger, () => deps.managers.list()),

    IssueCertificate: unaryHandler(
      'IssueCertificate',
      logger,
      async (req: { csr: string; name: string; validityMs: number | string }) => {
        if (!deps.local) {
          throw new FailedPreconditionError(
            'client certificates are issued on the manager host only (warren cert issue)',
          );
        }
        if (!CLIENT_NAME.test(req.name)) {
          throw new ValidationError('--name', req.name.slice(0, 80), 'use 1-64 letters, digits, ".", "-" or "_"');
        }
        const validityMs = Number(req.validityMs) || pki.certExpiryMs;
        const certificate = await pki.sign(req.csr, req.name, 'client', validityMs);
        logger.info({ name: req.name }, 'client certificate issued');
        return { certificate, caCertificate: pki.ca.certPem, notAfterMs: identityOfPem(certificate)!.notAfter };
      },
    ),
  };
}
