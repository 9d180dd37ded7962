import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';

/** Why a listen or bind failed, as the node's operator would say it. */
const WORDS_BY_CODE: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** `cannot listen on 127.0.0.2:8080: address already in use`. */
function listenError(host: string, port: number, err: NodeJS.ErrnoException): string {
  return `cannot listen on ${joinHostPort(host, port)}: ${(err.code && WORDS_BY_CODE[err.code]) ?? err.message}`;
}

/** `host:port`, with an IPv6 host in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Makes `server` listen on `host:port`. Resolves undefined once it listens, or the failure in
 * words (`cannot listen on 127.0.0.2:8080: address already in use`): it never rejects.
 */
export function listenOn(server: Server, host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      resolve(listenError(host, port, err));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(undefined);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

/** As listenOn, for a UDP socket (the DNS server's): binds it to `host:port` alone. */
export function bindUdp(socket: UdpSocket, host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.off('listening', onListening);
      resolve(listenError(host, port, err));
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve(undefined);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port, exclusive: true });
  });
}
