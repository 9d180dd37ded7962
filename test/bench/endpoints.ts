/**
 * Plain loopback endpoints for the probe-capacity bench, in their own process so their CPU is
 * not counted as the prober's: HTTP servers answering 200 and TCP servers that accept and close.
 * Prints {"http":[ports],"tcp":[ports]} and runs until stdin closes.
 */
import { createServer as createHttp } from 'node:http';
import { createServer as createTcp } from 'node:net';

const COUNT = 4;
const listen = (server: { listen: (port: number, host: string, cb: () => void) => unknown; address: () => unknown }) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

const http = await Promise.all(
  Array.from({ length: COUNT }, () => listen(createHttp((_req, res) => res.end('ok\n')))),
);
const tcp = await Promise.all(Array.from({ length: COUNT }, () => listen(createTcp((socket) => socket.destroy()))));
process.stdout.write(`${JSON.stringify({ http, tcp })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
