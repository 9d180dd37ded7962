import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** A DNS message with its 2-byte length before it, as TCP carries it (RFC 1035, 4.2.2). */
export function frame(message: Buffer): Buffer {
  const framed = Buffer.alloc(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/**
 * Cuts a TCP byte stream into DNS messages. A client may send several queries in one write, or
 * one query over several: dns-packet's streamDecode reads one message and no partial one.
 */
export class FrameReader {
  #buffered = Buffer.alloc(0);

  /** The messages that `chunk` completes, in order; throws on an empty message. */
  push(chunk: Buffer): Buffer[] {
    let buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const messages: Buffer[] = [];
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (length === 0) throw new Error('an empty DNS message');
      if (buffered.length < 2 + length) break;
      messages.push(buffered.subarray(2, 2 + length));
      buffered = buffered.subarray(2 + length);
    }
    // Kept apart from the chunk, which the socket may reuse.
    this.#buffered = Buffer.from(buffered);
    return messages;
  }
}

/** What one TCP client connection needs from the server. */
export interface TcpServing {
  /** The reply to a message, or undefined to close the connection (not a query, or the server stops). */
  handle(message: Buffer): Promise<Buffer | undefined>;
  logger: Logger;
  /** How long a connection with no query in flight may stay quiet. */
  idleMs: number;
}

/** Queries one connection may have in flight before the server stops reading from it. */
const MAX_IN_FLIGHT = 32;

/**
 * Serves DNS queries on one client connection: pipelined (RFC 7766, 6.2.1.1), every query is
 * handled as soon as it is read and answered when its answer is ready, so a slow forward does
 * not hold up a Warren name behind it. Closes the connection after `idleMs` quiet.
 */
export function serveTcp(socket: Socket, serving: TcpServing): void {
  const { logger } = serving;
  const reader = new FrameReader();
  let inFlight = 0;
  socket.setNoDelay(true);
  socket.setTimeout(serving.idleMs);
  socket.on('timeout', () => {
    if (inFlight === 0) socket.destroy();
  });
  socket.on('error', (err) => logger.debug({ err }, 'a DNS client connection failed'));
  socket.on('data', (chunk: Buffer) => {
    let messages: Buffer[];
    try {
      messages = reader.push(chunk);
    } catch (err) {
      logger.debug({ err }, 'closing a DNS client connection: bad framing');
      socket.destroy();
      return;
    }
    for (const message of messages) {
      inFlight++;
      if (inFlight >= MAX_IN_FLIGHT) socket.pause();
      serving.handle(message).then(
        (reply) => {
          inFlight--;
          if (socket.destroyed) return;
          if (reply === undefined) {
            socket.destroy();
            return;
          }
          socket.write(frame(reply));
          if (inFlight < MAX_IN_FLIGHT && socket.isPaused()) socket.resume();
        },
        (err: unknown) => {
          logger.warn({ err }, 'a DNS query failed');
          socket.destroy();
        },
      );
    }
  });
}
