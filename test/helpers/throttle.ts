/**
 * A TCP forwarder that slows one direction: what the backend sends reaches the client at most
 * `bytesPerSecond` per connection; what the client sends passes at full speed. Tests put it in
 * front of a registry so that a pull lasts long enough to be watched on a fast machine.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface ThrottledFront {
  /** `127.0.0.1:PORT`, where clients connect. */
  host: string;
  /** Stops listening and cuts every forwarded connection. */
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1 (any port) and forwards each connection to `backend()`, read at connect. */
export async function startThrottledFront(backend: () => string, bytesPerSecond: number): Promise<ThrottledFront> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const at = backend().lastIndexOf(':');
    const upstream = connect(Number(backend().slice(at + 1)), backend().slice(0, at));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    const startMs = performance.now();
    let sent = 0;
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      sent += chunk.length;
      const dueMs = startMs + (sent / bytesPerSecond) * 1000 - performance.now();
      if (dueMs > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), dueMs);
      }
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the throttled front has no TCP address');
  return {
    host: `127.0.0.1:${address.port}`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
