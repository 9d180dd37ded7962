import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { readDnsAddress } from '@warren/core';
import type { Logger } from 'pino';
import { answers, RCODE, rcodeOf } from './message.js';
import { frame, FrameReader } from './tcp.js';

/** A resolver queries are forwarded to. */
export interface Upstream {
  address: string;
  port: number;
  /** As the operator wrote it, for logs. */
  label: string;
}

/** An upstream as `--dns-upstream` takes it (core's readDnsAddress); throws when it is none. */
export function parseUpstream(text: string): Upstream {
  const read = readDnsAddress(text);
  if (!read) throw new Error(`DNS server: upstream "${text}" is not an IP address with an optional port`);
  return { ...read, label: text };
}

export type Transport = 'udp' | 'tcp';

/** The address this server listens on, which must not be an upstream of its own. */
export interface Self {
  host: string;
  port: number;
}

/** Forwards under way at once, at most. */
const MAX_IN_FLIGHT = 512;

/**
 * Sends queries for names that are not Warren's to the upstream resolvers, one after the other:
 * the next is tried when one does not answer in time, fails, or answers SERVFAIL or REFUSED.
 * Each attempt goes out with a fresh random id from a fresh socket (a random source port), so
 * that a reply is hard to forge; the client's id is put back in the reply, which is otherwise
 * passed on as it came.
 */
export class Forwarder {
  readonly #upstreams: readonly Upstream[];
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  /** Forwards under way: each holds a socket of the worker's process. */
  #inFlight = 0;

  constructor(upstreams: readonly Upstream[], timeoutMs: number, logger: Logger) {
    this.#upstreams = upstreams;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  get hasUpstreams(): boolean {
    return this.#upstreams.length > 0;
  }

  /**
   * The reply to `query` from the first upstream that answers, or undefined when none does — or
   * when MAX_IN_FLIGHT forwards are under way already: a task flooding its node's resolver gets
   * SERVFAIL instead of the file descriptors the proxy in the same process needs.
   */
  async forward(query: Buffer, transport: Transport, self: Self, signal: AbortSignal): Promise<Buffer | undefined> {
    if (this.#inFlight >= MAX_IN_FLIGHT) return undefined;
    this.#inFlight++;
    try {
      return await this.#forward(query, transport, self, signal);
    } finally {
      this.#inFlight--;
    }
  }

  async #forward(query: Buffer, transport: Transport, self: Self, signal: AbortSignal): Promise<Buffer | undefined> {
    const clientId = query.readUInt16BE(0);
    for (const upstream of this.#upstreams) {
      if (isSelf(upstream, self)) continue;
      if (signal.aborted) return undefined;
      const id = randomInt(0x10000);
      const sent = Buffer.from(query);
      sent.writeUInt16BE(id, 0);
      try {
        const ask = transport === 'udp' ? askUdp : askTcp;
        const reply = await ask(upstream, sent, id, this.#timeoutMs, signal);
        const rcode = rcodeOf(reply);
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
          this.#logger.debug({ upstream: upstream.label, rcode }, 'a DNS upstream could not answer');
          continue;
        }
        reply.writeUInt16BE(clientId, 0);
        return reply;
      } catch (err) {
        if (signal.aborted) return undefined;
        this.#logger.debug({ upstream: upstream.label, transport, err }, 'a DNS upstream failed');
      }
    }
    return undefined;
  }
}

/** Whether `upstream` is this server: forwarding to it would loop until the query times out. */
function isSelf(upstream: Upstream, self: Self): boolean {
  if (upstream.port !== self.port) return false;
  if (upstream.address === self.host) return true;
  const anyHost = self.host === '0.0.0.0' || self.host === '::';
  return anyHost && (upstream.address.startsWith('127.') || upstream.address === '::1');
}

/** Runs one attempt: `start` gets the functions that settle it; the timeout and `signal` end it too. */
function attempt(
  timeoutMs: number,
  signal: AbortSignal,
  start: (settle: (err: Error | undefined, reply?: Buffer) => void) => () => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let cleanUp = (): void => undefined;
    let settled = false;
    const settle = (err: Error | undefined, reply?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cleanUp();
      if (err || !reply) reject(err ?? new Error('no reply'));
      else resolve(reply);
    };
    const onAbort = (): void => settle(new Error('the DNS server stopped'));
    const timer = setTimeout(() => settle(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    else cleanUp = start(settle);
    if (settled) cleanUp();
  });
}

/** One query over UDP. A connected socket hears the ICMP of a closed port as ECONNREFUSED at once. */
function askUdp(upstream: Upstream, query: Buffer, id: number, timeoutMs: number, signal: AbortSignal) {
  return attempt(timeoutMs, signal, (settle) => {
    const socket = dgram.createSocket(isIPv6(upstream.address) ? 'udp6' : 'udp4');
    socket.on('error', (err) => settle(err));
    socket.on('message', (reply) => {
      if (answers(reply, id)) settle(undefined, reply);
    });
    socket.connect(upstream.port, upstream.address, () => socket.send(query, (err) => err && settle(err)));
    return () => {
      try {
        socket.close();
      } catch {
        // Closed already.
      }
    };
  });
}

/** One query over a TCP connection of its own, closed once answered. */
function askTcp(upstream: Upstream, query: Buffer, id: number, timeoutMs: number, signal: AbortSignal) {
  return attempt(timeoutMs, signal, (settle) => {
    const socket = connect({ host: upstream.address, port: upstream.port });
    const reader = new FrameReader();
    socket.on('connect', () => socket.write(frame(query)));
    socket.on('error', (err) => settle(err));
    socket.on('close', () => settle(new Error('the connection closed before an answer')));
    socket.on('data', (chunk: Buffer) => {
      try {
        const [reply] = reader.push(chunk);
        if (reply === undefined) return;
        settle(answers(reply, id) ? undefined : new Error('an answer to another query'), Buffer.from(reply));
      } catch (err) {
        settle(err as Error);
      }
    });
    return () => socket.destroy();
  });
}
