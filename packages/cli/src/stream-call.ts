/** A server stream of the manager's read to its end (`events`, `service logs`). */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { cliErrorFrom } from './rpc-errors.js';

/**
 * Hands each message to `onData` until the stream ends. Ctrl-C or SIGTERM cancels it, which is an
 * end like any other (exit 0); a failure is said in the manager's words. The client is closed after.
 */
export async function readStream<T>(
  call: ClientReadableStream<T>,
  connection: { address: string; client: { close(): void } },
  onData: (message: T) => void,
): Promise<void> {
  const stop = (): void => call.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await new Promise<void>((resolve, reject) => {
      call.on('data', onData);
      call.on('end', resolve);
      // CANCELLED (1): this process ended it.
      call.on('error', (err: Error & { code?: number }) => (err.code === 1 ? resolve() : reject(err)));
    });
  } catch (err) {
    throw cliErrorFrom(err, connection.address);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    connection.client.close();
  }
}
