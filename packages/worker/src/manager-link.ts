import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { FailedPreconditionError, UnauthenticatedError } from '@warren/core';
import { isRejected, registryAuthFromWire, taskFromWire, unary, type wire } from '@warren/api';
import { Backoff } from './backoff.js';
import { HeartbeatStream } from './heartbeat-stream.js';
import type { ManagerLinkOptions } from './manager-link-options.js';

export type { AssignmentHandler, ImageQuestion, ManagerLinkOptions } from './manager-link-options.js';

/** Waits between registration attempts. */
const REGISTER_RETRY = { initialMs: 100, maxMs: 5000 };
/** While managers elect a leader (they say no manager leads), registration is tried again this often. */
const ELECTION_RETRY_MS = 100;
/** A manager that does not answer a registration within this is passed over (a frozen leader, say). */
const REGISTER_TIMEOUT_MS = 2000;
/** Heartbeats that fail in a row before the worker looks for the leader again. */
const HEARTBEATS_MISSED = 2;
/**
 * Waits between assignment streams (the first after a stream ends is short); a stream that
 * lasted `RECONNECT_RESET_AFTER_MS` starts them again from the first.
 */
const RECONNECT = { initialMs: 100, maxMs: 5000 };
const RECONNECT_RESET_AFTER_MS = 5000;
/** Image events come in bursts: the manager is told once they have been quiet this long. */
const IMAGES_SETTLE_MS = 200;

/**
 * The worker's side of the manager: registers the node, follows its assignment stream
 * (registering again after the stream breaks), sends heartbeats while the stream is up, and
 * tells the manager when the engine's images change.
 */
export class ManagerLink {
  #nodeId = '';
  #heartbeatIntervalMs = 1000;
  /** The assignment stream is open and has sent the node's full task set. */
  #connected = false;
  /** Assignment streams that sent their full set so far (each is a connection to a manager). */
  #connections = 0;
  #cutOffSince = 0;
  #imagesTimer: NodeJS.Timeout | undefined;
  /** Ends the current assignment stream (heartbeats stopped getting through). */
  #lost: (() => void) | undefined;

  constructor(private readonly options: ManagerLinkOptions) {}

  /** The id the manager gave this node; '' until registered. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** As the manager asks; default 1 s. */
  get heartbeatIntervalMs(): number {
    return this.#heartbeatIntervalMs;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** When the assignment stream last broke (epoch ms); 0 while connected or never connected. */
  get cutOffSince(): number {
    return this.#cutOffSince;
  }

  /**
   * Registers the node. Rejects when the manager refuses it (a revoked certificate, a bad name) or `signal`
   * aborts; keeps trying while the manager cannot be reached.
   */
  register(signal: AbortSignal): Promise<void> {
    return this.#register(signal, true);
  }

  /** After `register`: follows the assignment stream and sends heartbeats until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#followLoop(signal), this.#heartbeatLoop(signal)]);
  }

  /** Image events come in bursts: tell the manager once they settle. */
  imagesChanged(signal: AbortSignal): void {
    clearTimeout(this.#imagesTimer);
    this.#imagesTimer = setTimeout(() => {
      if (signal.aborted) return;
      const { client, runtime, logger } = this.options;
      runtime
        .images()
        .then((images) => {
          const request = { nodeId: this.#nodeId, images };
          return unary(client.UpdateNodeImages, client, request, { signal });
        })
        .catch((err: unknown) => logger.warn({ reason: (err as Error).message }, 'image list update failed'));
    }, IMAGES_SETTLE_MS);
  }

  /** Answers a question of the manager about an image (its digest, or why there is none). */
  async answerImageQuery(
    id: string,
    answer: { digest: string; errorKind: string; error: string },
    signal: AbortSignal,
  ): Promise<void> {
    const { client, logger } = this.options;
    const request = { nodeId: this.#nodeId, id, ...answer };
    await unary(client.AnswerImageQuery, client, request, { signal }).catch((err: unknown) =>
      logger.warn({ reason: (err as Error).message }, 'image query answer not delivered'),
    );
  }

  /**
   * Tells the manager the proxy applied `version` of the ingress table, and what it cannot listen
   * on: published ports, and virtual IPs' ports (the service's name leads nowhere on this node).
   */
  async ackIngress(version: number, bindErrors: wire.IngressBindError[], signal: AbortSignal): Promise<void> {
    const { client, logger } = this.options;
    const request = { nodeId: this.#nodeId, version, bindErrors };
    const options = { signal, timeoutMs: 5000 };
    await unary(client.AckIngress, client, request, options).catch((err: unknown) => {
      if (!signal.aborted) logger.warn({ version, reason: (err as Error).message }, 'ingress ack not delivered');
    });
  }

  /** `first`: a refusal rejects (the worker is starting); later ones are logged and retried. */
  async #register(signal: AbortSignal, first: boolean): Promise<void> {
    const { client, name, manager, logger, address, ingressAddress } = this.options;
    const retry = new Backoff(REGISTER_RETRY);
    let warned = false;
    for (;;) {
      signal.throwIfAborted();
      try {
        // An engine that does not say leaves the capacity unknown: the node still joins.
        const unknown = (): undefined => undefined;
        const [images, capacity] = await Promise.all([
          this.options.runtime.images(),
          this.options.runtime.capacity().catch(unknown),
        ]);
        const res = await unary<wire.RegisterRequest, wire.RegisterResponseOut>(
          client.Register,
          client,
          { name, hostname: hostname(), images, address, ingressAddress, capacity },
          { signal, timeoutMs: REGISTER_TIMEOUT_MS },
        );
        this.#nodeId = res.nodeId;
        this.#heartbeatIntervalMs = res.heartbeatIntervalMs || 1000;
        logger.debug(
          { node: name, id: res.nodeId, manager: this.options.managers.address },
          'registered with manager',
        );
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        // The managers are electing (a lease, a campaign): a leader comes within a second or two,
        // and this manager will name it; ask it again soon instead of backing off.
        if (this.options.managers.electing(err)) {
          logger.debug({ reason: (err as grpc.ServiceError).details }, 'no manager leads yet; asking again');
          await sleep(ELECTION_RETRY_MS, undefined, { signal });
          continue;
        }
        // Another manager leads, or this one does not answer: try there (or the next) at once.
        if (this.options.managers.failed(err)) {
          retry.reset();
          continue;
        }
        if (isRejected(err)) {
          const e = err as grpc.ServiceError;
          const refused =
            e.code === grpc.status.UNAUTHENTICATED
              ? new UnauthenticatedError(e.details)
              : new FailedPreconditionError(e.details);
          if (first) throw refused;
          logger.error({ reason: e.details }, 'manager refused this worker; retrying');
        } else if (!warned) {
          logger.warn({ manager, reason: (err as Error).message }, 'manager unreachable; retrying');
          warned = true;
        }
      }
      await retry.wait(signal);
    }
  }

  async #followLoop(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(RECONNECT);
    let registered = true;
    while (!signal.aborted) {
      let started = Date.now();
      try {
        if (!registered) await this.#register(signal, false);
        registered = false;
        started = Date.now();
        await this.#follow(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.options.logger.warn({ reason: (err as Error).message }, 'assignment stream failed');
      }
      // A manager that takes the registration but ends every stream at once is not hammered.
      if (Date.now() - started > RECONNECT_RESET_AFTER_MS) backoff.reset();
      await backoff.wait(signal);
    }
  }

  /** Follows the assignment stream until it ends (or heartbeats stop getting through: #lost). */
  async #follow(signal: AbortSignal): Promise<void> {
    const { client, assignments, logger } = this.options;
    const call = client.Assignments({ nodeId: this.#nodeId });
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    this.#lost = () => call.cancel();
    try {
      await new Promise<void>((resolve, reject) => {
        call.on('data', (message: wire.AssignmentsMessageOut) => {
          for (const { serviceId, registryAuth } of message.auths) {
            const auth = registryAuthFromWire(registryAuth);
            if (auth) assignments.registryAuth(serviceId, auth);
          }
          for (const q of message.imageQueries) {
            const auth = registryAuthFromWire(q.registryAuth);
            assignments.imageQuery({ id: q.id, image: q.image, ...(auth ? { auth } : {}) });
          }
          for (const l of message.logs) {
            const tail = l.tail ?? undefined;
            const { id, taskIds, follow, sinceMs } = l;
            assignments.logs({ id, taskIds, follow, sinceMs, ...(tail === undefined ? {} : { tail }) });
          }
          if (message.ingress) assignments.ingress(message.ingress, message.full);
          const tasks = message.tasks.map(taskFromWire);
          if (!message.full && tasks.length === 0 && message.removedTaskIds.length === 0) return;
          if (message.full) {
            this.#connected = true;
            this.#connections++;
            this.#cutOffSince = 0;
            logger.debug({ tasks: tasks.length }, 'assignments received');
            assignments.full(tasks);
          } else assignments.changes(tasks, message.removedTaskIds);
        });
        call.on('end', () => resolve());
        call.on('error', (err: grpc.ServiceError) => {
          if (err.code === grpc.status.CANCELLED && signal.aborted) return resolve();
          this.options.managers.failed(err);
          reject(err);
        });
      });
    } finally {
      this.#lost = undefined;
      signal.removeEventListener('abort', onAbort);
      if (!signal.aborted) {
        this.#connected = false;
        this.#cutOffSince ||= Date.now();
      }
    }
  }

  async #heartbeatLoop(signal: AbortSignal): Promise<void> {
    const { client, logger } = this.options;
    let missed = 0;
    // One stream per assignment stream: a new connection (maybe to another manager) gets a new one.
    let stream: { beats: HeartbeatStream; connection: number } | undefined;
    signal.addEventListener('abort', () => stream?.beats.close(), { once: true });
    while (!signal.aborted) {
      await sleep(this.#heartbeatIntervalMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted || !this.#connected) continue;
      const engine = this.options.engine();
      try {
        if (!stream || stream.beats.closed || stream.connection !== this.#connections) {
          stream?.beats.close();
          stream = { beats: new HeartbeatStream(client), connection: this.#connections };
        }
        const request = { nodeId: this.#nodeId, engineUnreachable: !engine.ok, engineMessage: engine.message };
        const res = await stream.beats.beat(request, Math.max(1000, this.#heartbeatIntervalMs));
        this.#heartbeatIntervalMs = res.heartbeatIntervalMs || this.#heartbeatIntervalMs;
        missed = 0;
      } catch (err) {
        if (signal.aborted) continue;
        logger.debug({ reason: (err as Error).message }, 'heartbeat failed');
        // A manager that stopped answering (frozen, cut off) while its stream looks open: find the leader again.
        if (++missed >= HEARTBEATS_MISSED) {
          missed = 0;
          logger.warn(
            { manager: this.options.managers.address },
            'the manager stopped answering; looking for the leader',
          );
          this.options.managers.failed(err);
          this.#lost?.();
        }
      }
    }
  }
}
