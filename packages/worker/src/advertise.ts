import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';

/**
 * The address this host uses to reach `manager` (`host:port`): the default `--advertise-addr`.
 * A UDP socket "connected" to the manager gets the route's source address; nothing is sent.
 * A manager on loopback gives 127.0.0.1; a manager named by a host name is looked up first.
 */
export async function localAddressTowards(manager: string): Promise<string> {
  const colon = manager.lastIndexOf(':');
  const host = manager.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(manager.slice(colon + 1)) || 7420;
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
