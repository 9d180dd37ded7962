import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { RegistryAuth } from '@warren/core';
import type { AssignedTask } from '@warren/api';
import type { ImageSource } from './executor.js';
import { ImagePuller, classifyPullError, describeProgress } from './image-puller.js';
import type { ContainerRuntime } from './runtime.js';

/**
 * The images of a node's tasks: pulled before their containers are created (shared between
 * tasks of one image, with the registry credentials the manager sent for their service), and
 * the manager's questions about an image's digest answered through the engine. Credentials stay
 * in memory, are handed to the engine only, and are never logged.
 */
export class TaskImages implements ImageSource {
  readonly #auths = new Map<string, RegistryAuth>();
  readonly #puller: ImagePuller;

  constructor(
    docker: Docker,
    private readonly runtime: ContainerRuntime,
    logger: Logger,
  ) {
    this.#puller = new ImagePuller(docker, logger);
  }

  /** The manager sent credentials for a service whose tasks run here. */
  setAuth(serviceId: string, auth: RegistryAuth): void {
    this.#auths.set(serviceId, auth);
  }

  async prepare(task: AssignedTask, onProgress: (message: string) => void, signal: AbortSignal): Promise<void> {
    const auth = this.#auths.get(task.serviceId);
    await this.#puller.ensure(task.spec.image, task.spec.pull, {
      ...(auth ? { auth } : {}),
      onProgress: (p) => onProgress(describeProgress(p)),
      signal,
    });
  }

  /** The registry's digest for `image`, or why there is none (`image not found: …`). */
  async query(image: string, auth?: RegistryAuth): Promise<{ digest: string; errorKind: string; error: string }> {
    try {
      return { digest: await this.runtime.registryDigest(image, auth), errorKind: '', error: '' };
    } catch (err) {
      const refused = classifyPullError(image, err);
      return { digest: '', errorKind: refused.kind, error: refused.message };
    }
  }
}
