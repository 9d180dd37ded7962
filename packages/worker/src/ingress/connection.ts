import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { EndpointPool } from './pool.js';

/** How a client connection ended up: counted once per connection. */
export type ConnectionOutcome = 'forwarded' | 'no_endpoint' | 'failed';

/** What a forwarded connection needs from its port and tells it. */
export interface ForwardContext {
  readonly pool: EndpointPool;
  readonly connectTimeoutMs: number;
  readonly maxAttempts: number;
  /** The port's endpoint addresses now: a retry reads the table as it is at that moment. */
  addresses(): readonly string[];
  /**
   * A connect to `address` started; `settled` resolves once the endpoint has answered (a first
   * byte, or its end) or the attempt is over — or ANSWER_WAIT_MS after it connected.
   */
  attempting(address: string, settled: Promise<void>): void;
  /** An attempt on `address` failed (refused, timed out, reset, or closed without answering). */
  failed(address: string, reason: string): void;
  retried(): void;
  outcome(outcome: ConnectionOutcome): void;
  /** Bytes passed: `in` from the client towards the endpoint, `out` back to the client. */
  bytes(direction: 'in' | 'out', count: number): void;
}

/** An endpoint that closes sooner than this after the connect, without a word, failed. */
const QUICK_CLOSE_MS = 1000;

/**
 * How long a connected endpoint's first answer is waited for by a table that removes it. A
 * request sent just before the table must be served before the task's stop begins: its bytes
 * may still sit unread in the endpoint's socket when the stop's SIGTERM comes. A request that
 * takes longer, or a client that says nothing, is the endpoint's own graceful drain to finish.
 */
export const ANSWER_WAIT_MS = 1000;

/** What the client may send before the endpoint answers and still be replayed to another one. */
export const REPLAY_LIMIT_BYTES = 64 * 1024;

/** Splits `host:port` (`[v6]:port` too). */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}

/**
 * One client connection forwarded to one of its port's endpoints. Until an endpoint has sent
 * a byte back, a failed endpoint is replaced by another without the client noticing: a
 * connect that is refused, times out or is reset, and also an endpoint that accepts and then
 * closes without a word. The latter is what Docker's userland docker-proxy does on a host port
 * whose container is gone; this is HAProxy's `retry-on empty-response`, and it is why what the
 * client sent is kept (up to REPLAY_LIMIT_BYTES) until the first byte back, to be replayed.
 * Once a byte came back, or on the last attempt, the two sockets are piped both ways.
 */
export class ForwardedConnection {
  readonly #tried = new Set<string>();
  #upstream: Socket | undefined;
  #replay: Buffer[] = [];
  #replayBytes = 0;
  #committed = false;
  /** Set while waiting for the first byte of a connected endpoint that is not the last try. */
  #stopAwaiting: (() => void) | undefined;

  constructor(
    private readonly client: Socket,
    private readonly context: ForwardContext,
  ) {}

  /** Starts forwarding; the client socket must be paused (`pauseOnConnect`). */
  start(): void {
    const { client } = this;
    client.setNoDelay(true);
    client.on('error', () => undefined); // its close says it
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk));
    client.on('close', (hadError) => {
      const upstream = this.#upstream;
      if (!upstream || upstream.destroyed) return;
      // Closed without both ends done: the client went away, nothing more will pass.
      if (!this.#committed || hadError || !client.readableEnded) upstream.destroy();
    });
    this.#attempt();
  }

  /** Ends both sides at once (the proxy stops). */
  destroy(): void {
    this.client.destroy();
    this.#upstream?.destroy();
  }

  #attempt(): void {
    const { client, context } = this;
    if (client.destroyed) return;
    const addresses = context.addresses();
    const address = this.#tried.size < context.maxAttempts ? context.pool.choose(addresses, this.#tried) : undefined;
    if (address === undefined) {
      context.outcome(this.#tried.size === 0 ? 'no_endpoint' : 'failed');
      client.destroy();
      return;
    }
    if (this.#tried.size > 0) context.retried();
    this.#tried.add(address);
    const last = this.#tried.size >= context.maxAttempts || addresses.every((a) => this.#tried.has(a));
    const release = context.pool.acquire(address);
    const { host, port } = splitAddress(address);
    let upstream: Socket;
    try {
      upstream = connect({ host, port, allowHalfOpen: true });
    } catch (err) {
      // A bad address (a port out of range) throws here, not on the socket: an attempt that failed.
      release();
      context.failed(address, (err as Error).message);
      queueMicrotask(() => this.#attempt());
      return;
    }
    this.#upstream = upstream;
    let settle = (): void => undefined;
    context.attempting(address, new Promise<void>((resolve) => (settle = resolve)));
    // Given up (timed out, failed) or closed: no connection can come of this attempt any more.
    // Said at once, not at 'close' (a loop turn later), so that a table waiting for it is not late.
    const over = (): void => {
      clearTimeout(timer);
      settle();
      release();
    };
    const timer = setTimeout(() => {
      over();
      upstream.destroy(new Error(`no connection within ${context.connectTimeoutMs} ms`));
    }, context.connectTimeoutMs);
    let connected = false;
    let failure: Error | undefined;
    upstream.once('connect', () => {
      clearTimeout(timer);
      connected = true;
      const answerWait = setTimeout(settle, ANSWER_WAIT_MS);
      const answered = (): void => {
        clearTimeout(answerWait);
        settle();
      };
      upstream.once('data', answered);
      upstream.once('end', answered);
      upstream.once('close', answered);
      upstream.setNoDelay(true);
      for (const chunk of this.#replay) upstream.write(chunk);
      if (last) this.#commit(upstream);
      else this.#awaitAnswer(upstream);
      client.pipe(upstream);
    });
    upstream.on('error', (err) => {
      failure ??= err;
      over();
    });
    upstream.on('close', (hadError) => {
      over();
      // Replaced, or the client went first: nothing to blame the endpoint for.
      if (this.#upstream !== upstream || client.destroyed) return;
      if (this.#committed) {
        // An endpoint that ended in good order has ended the client through the pipe.
        if (hadError || !upstream.readableEnded) client.destroy();
        return;
      }
      this.#stopAwaiting?.();
      client.unpipe(upstream);
      context.failed(address, failure?.message ?? (connected ? 'closed without answering' : 'closed'));
      this.#attempt();
    });
  }

  /** Commits to `upstream` at its first byte; an end before it is a failed attempt. */
  #awaitAnswer(upstream: Socket): void {
    const onData = (chunk: Buffer): void => {
      this.#stopAwaiting?.();
      this.#commit(upstream, chunk);
    };
    const connectedAt = performance.now();
    // With allowHalfOpen its end alone does not close it. An endpoint that closes at once on a
    // client that is still talking is the failure to retry (docker-proxy for a container that is
    // gone); one that closes on a client that has said all it will (a TCP check: connect, FIN)
    // or on a connection idle for a while (a server's timeout) is doing its job: pass it on.
    const onEnd = (): void => {
      if (!this.client.readableEnded && performance.now() - connectedAt < QUICK_CLOSE_MS) {
        upstream.destroy();
        return;
      }
      this.#stopAwaiting?.();
      this.#commit(upstream);
      this.client.end();
    };
    upstream.once('data', onData);
    upstream.once('end', onEnd);
    this.#stopAwaiting = () => {
      this.#stopAwaiting = undefined;
      upstream.off('data', onData);
      upstream.off('end', onEnd);
    };
  }

  #fromClient(chunk: Buffer): void {
    this.context.bytes('in', chunk.length);
    if (this.#committed) return;
    this.#replayBytes += chunk.length;
    if (this.#replayBytes <= REPLAY_LIMIT_BYTES) {
      this.#replay.push(chunk);
    } else if (this.#upstream) {
      // Too much to keep: this endpoint is the one, answer or not. The pipe writes this chunk.
      this.#stopAwaiting?.();
      this.#commit(this.#upstream);
    }
  }

  /** From now on `upstream` is the connection's endpoint: whatever it does reaches the client. */
  #commit(upstream: Socket, first?: Buffer): void {
    this.#committed = true;
    this.#replay = [];
    this.context.outcome('forwarded');
    if (first) {
      this.context.bytes('out', first.length);
      this.client.write(first);
    }
    upstream.on('data', (chunk: Buffer) => this.context.bytes('out', chunk.length));
    upstream.pipe(this.client);
  }
}
