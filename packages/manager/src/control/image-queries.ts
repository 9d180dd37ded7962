import { randomBytes } from 'node:crypto';
import { registryAuthToWire, type wire } from '@warren/api';
import type { RegistryAuth } from '@warren/core';
import type { NodeSessions } from '../workers/node-sessions.js';

/** A node engine's answer about an image: its digest, or why there is none. */
export interface ImageAnswer {
  digest: string;
  /** `not-found`, `access-denied`, `unreachable`, `other`; '' with a digest. */
  errorKind: string;
  error: string;
}

/** Well inside the CLI's 10 s deadline, so a create never times out on the client while it succeeds. */
const ANSWER_PATIENCE_MS = 5000;

/**
 * Questions the manager asks a node's engine about an image (its digest in the registry), over
 * the node's assignment stream; the worker answers with AnswerImageQuery. A node that does not
 * answer in time counts as a registry that did not answer.
 */
export class ImageQueries {
  readonly #pending = new Map<string, { nodeId: string; resolve: (a: ImageAnswer) => void }>();

  constructor(private readonly sessions: NodeSessions) {}

  ask(nodeId: string, image: string, auth?: RegistryAuth, patienceMs = ANSWER_PATIENCE_MS): Promise<ImageAnswer> {
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        const error = `registry unreachable: ${image}: the node asked did not answer within ${patienceMs / 1000} s`;
        resolve({ digest: '', errorKind: 'unreachable', error });
      }, patienceMs);
      this.#pending.set(id, {
        nodeId,
        resolve: (answer) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          resolve(answer);
        },
      });
      const query: wire.ImageQuery = { id, image, ...(auth ? { registryAuth: registryAuthToWire(auth) } : {}) };
      this.sessions.send(nodeId, { full: false, tasks: [], removedTaskIds: [], auths: [], imageQueries: [query] });
    });
  }

  /** Hands an answer to its question; false when no such question is waiting for that node. */
  answer(nodeId: string, w: wire.ImageQueryAnswerOut): boolean {
    const pending = this.#pending.get(w.id);
    if (!pending || pending.nodeId !== nodeId) return false;
    pending.resolve({ digest: w.digest, errorKind: w.errorKind, error: w.error });
    return true;
  }
}
