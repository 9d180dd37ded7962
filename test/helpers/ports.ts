/** Free ports for published-port tests and benches, where each worker is its own loopback "host". */
import net from 'node:net';

/**
 * The readiness of the ingress and names tests' busybox httpd (`/ready` on port 80): checked
 * every 250 ms, out at the first failure — a replica leaves the endpoints within a check.
 */
export const READY_AT_ONCE = [
  '--readiness-http',
  'path=/ready,port=80',
  '--readiness-interval',
  '250ms',
  '--readiness-retries',
  '1',
];

/** The ingress and advertise addresses of two workers sharing one machine. */
export const TWO_HOSTS = { w1: '127.0.0.2', w2: '127.0.0.3' } as const;

/** A port free on every one of `hosts` now (the kernel's pick for the first, checked on the rest). */
export async function portFreeOn(hosts: readonly string[] = Object.values(TWO_HOSTS)): Promise<number> {
  for (;;) {
    const port = await listenOnce(hosts[0]!, 0);
    if (port === undefined) continue;
    let free = true;
    for (const host of hosts.slice(1)) free &&= (await listenOnce(host, port)) !== undefined;
    if (free) return port;
  }
}

function listenOnce(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
