import type { Socket as UdpSocket } from 'node:dgram';
import { listenError, listenOn } from '../ingress/listen.js';

/** Makes a TCP server listen on `host:port`; resolves undefined once it does, or the failure in words. */
export const listenTcp = listenOn;

/** Binds `socket` to `host:port`; resolves undefined once it is, or the failure in words. */
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
