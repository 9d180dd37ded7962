import type { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { PullPolicy, RegistryAuth } from '@warren/core';
import { classifyPullError, engineWords, notPresentError, PullError } from './image-pull-error.js';
import { ProgressThrottle, PullProgressTracker, type PullEvent, type PullProgress } from './image-pull-progress.js';
import { pullReference, repoDigestOf } from './image-reference.js';

export { classifyPullError, PullError, type PullErrorKind } from './image-pull-error.js';
export {
  describeProgress,
  formatBytes,
  PullProgressTracker,
  type PullEvent,
  type PullProgress,
} from './image-pull-progress.js';

export type { PullPolicy, RegistryAuth } from '@warren/core';

export interface EnsureOptions {
  /** Credentials for the image's registry; none by default (anonymous pull). */
  auth?: RegistryAuth;
  /** The pull's progress, at most every 250 ms and once when it is done; never called when no pull is needed. */
  onProgress?: (progress: PullProgress) => void;
  /** Stops waiting (rejects with the signal's reason); the pull goes on while others wait for it. */
  signal?: AbortSignal;
}

export interface EnsuredImage {
  /** The image id (`sha256:…`). */
  id: string;
  /** `name@sha256:…` for the reference's repository; '' when the engine knows none (an image built locally). */
  digest: string;
}

/** How often progress goes out to each caller, at most. */
const PROGRESS_INTERVAL_MS = 250;

interface Waiter {
  onProgress: ((progress: PullProgress) => void) | undefined;
}

/** One pull of one reference on the engine, and the callers waiting for it. */
interface SharedPull {
  readonly controller: AbortController;
  readonly waiters: Set<Waiter>;
  readonly result: Promise<EnsuredImage>;
  /** Resolves when the engine's request has ended, whatever its outcome. */
  readonly settled: Promise<void>;
}

/**
 * Gets images onto the engine before the worker creates containers from them. Callers that
 * want the same reference at once share one pull: the engine sees one pull per reference at a
 * time. Credentials go to the engine only, never to the log.
 */
export class ImagePuller {
  readonly #pulls = new Map<string, SharedPull>();
  readonly #logger: Logger;

  constructor(
    private readonly docker: Docker,
    logger: Logger,
  ) {
    this.#logger = logger.child({ component: 'image-puller' });
  }

  /**
   * Makes sure `ref` is on the engine according to `policy` and resolves with the image's id
   * and repo digest. Rejects with a PullError (`not-present` for policy `never`), or with the
   * signal's reason when `signal` aborts.
   *
   * Concurrent callers of one reference share the pull, with the credentials of the caller that
   * started it; `always` pulls even when the image is present.
   */
  async ensure(ref: string, policy: PullPolicy, options: EnsureOptions = {}): Promise<EnsuredImage> {
    options.signal?.throwIfAborted();
    // An image id (`sha256:…`) names no registry's image: it is there or not.
    const effective = ref.startsWith('sha256:') ? 'never' : policy;
    if (effective !== 'always') {
      const present = await this.#inspect(ref);
      if (present) return present;
      if (effective === 'never') throw notPresentError(ref, policy);
      options.signal?.throwIfAborted();
    }
    return this.#join(ref, options);
  }

  /** The number of pulls under way (for tests and metrics). */
  get pulling(): number {
    return this.#pulls.size;
  }

  /** Waits for the pull of `ref` (started now if none is under way) until it ends or `signal` aborts. */
  #join(ref: string, { auth, onProgress, signal }: EnsureOptions): Promise<EnsuredImage> {
    const key = pullReference(ref);
    const running = this.#pulls.get(key);
    const pull = running && !running.controller.signal.aborted ? running : this.#start(key, ref, auth, running);
    const waiter: Waiter = { onProgress };
    pull.waiters.add(waiter);
    return new Promise<EnsuredImage>((resolve, reject) => {
      const leave = (): void => {
        signal?.removeEventListener('abort', onAbort);
        pull.waiters.delete(waiter);
      };
      const onAbort = (): void => {
        leave();
        // The last caller gone: nobody wants the image any more.
        if (pull.waiters.size === 0) pull.controller.abort();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      pull.result.then(resolve, reject).finally(leave);
    });
  }

  /** Starts pulling `key` once `previous` (an aborted pull of it) has ended on the engine. */
  #start(key: string, ref: string, auth: RegistryAuth | undefined, previous?: SharedPull): SharedPull {
    const controller = new AbortController();
    const waiters = new Set<Waiter>();
    const emit = (progress: PullProgress): void => {
      for (const waiter of waiters) {
        try {
          waiter.onProgress?.(progress);
        } catch (err) {
          this.#logger.warn({ err, image: ref }, 'a pull progress listener failed');
        }
      }
    };
    const result = (async () => {
      await previous?.settled;
      return this.#pull(key, ref, auth, controller.signal, emit);
    })();
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    const pull: SharedPull = { controller, waiters, result, settled };
    this.#pulls.set(key, pull);
    void settled.then(() => {
      if (this.#pulls.get(key) === pull) this.#pulls.delete(key);
    });
    return pull;
  }

  async #pull(
    key: string,
    ref: string,
    auth: RegistryAuth | undefined,
    signal: AbortSignal,
    emit: (progress: PullProgress) => void,
  ): Promise<EnsuredImage> {
    signal.throwIfAborted();
    const startedMs = performance.now();
    const tracker = new PullProgressTracker();
    const throttle = new ProgressThrottle(PROGRESS_INTERVAL_MS, () => emit(tracker.progress));
    this.#logger.debug({ image: key }, 'pulling image');
    try {
      // docker-modem passes abortSignal to the HTTP request: aborting it ends the engine's pull.
      const authconfig = auth && {
        username: auth.username,
        password: auth.password,
        serveraddress: auth.serverAddress,
      };
      const stream = (await this.docker.pull(key, {
        abortSignal: signal,
        ...(authconfig ? { authconfig } : {}),
      })) as Readable;
      await this.#follow(stream, (event) => {
        tracker.add(event);
        throttle.poke();
      });
      throttle.flush();
    } catch (err) {
      if (signal.aborted) {
        this.#logger.debug({ image: key }, 'image pull abandoned (nobody waits for it)');
        throw signal.reason;
      }
      const error = classifyPullError(ref, err);
      this.#logger.debug({ image: key, kind: error.kind, reason: engineWords(err) }, 'image pull failed');
      throw error;
    } finally {
      throttle.cancel();
    }
    const image = await this.#inspect(key);
    if (!image) throw new PullError('other', ref, `image pull failed: ${ref}: the engine lacks it after pulling`);
    const ms = Math.round(performance.now() - startedMs);
    this.#logger.debug({ image: key, id: image.id.slice(7, 19), digest: image.digest, ms }, 'image pulled');
    return image;
  }

  /** Reads the pull stream to its end; rejects with its first `{error}` line, or its failure. */
  #follow(stream: Readable, onEvent: (event: PullEvent) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let failed: PullEvent | undefined;
      this.docker.modem.followProgress(
        stream,
        (err) => (err ? reject(err) : failed ? reject(failed) : resolve()),
        (event: PullEvent) => {
          // What fails after the engine has answered 200 (a layer it cannot fetch) comes as a line.
          if (event.error !== undefined || event.errorDetail !== undefined) failed ??= event;
          else onEvent(event);
        },
      );
    });
  }

  /** The image's id and repo digest; undefined when the engine lacks it. */
  async #inspect(ref: string): Promise<EnsuredImage | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { id: info.Id, digest: repoDigestOf(ref, info.RepoDigests ?? []) };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw classifyPullError(ref, err);
    }
  }
}
