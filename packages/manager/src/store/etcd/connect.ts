/**
 * `--store etcd://h1:2379,h2:2379,h3:2379` (DESIGN 9): which etcd members to use, and a client
 * tuned for a failover measured in a second or two — calls that time out, members tried in turn,
 * watches that come back within a second.
 */
import { readFileSync } from 'node:fs';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { parseStoreUrl, type StoreUrl } from '@warren/core';

export { parseStoreUrl };

export interface EtcdStoreOptions extends StoreUrl {
  /** TLS to etcd: its CA, and this manager's client certificate and key (file paths). */
  tls?: { ca: string; cert?: string; key?: string };
}

/** A call to etcd that takes longer has failed (no quorum answers, say). */
export const CALL_TIMEOUT_MS = 2000;

/** A client of the members, with calls that fail fast when no quorum answers. */
export function etcdClient(options: EtcdStoreOptions): Etcd3 {
  const scheme = options.tls ? 'https' : 'http';
  const read = (file: string | undefined): Buffer | undefined => (file ? readFileSync(file) : undefined);
  return new Etcd3({
    hosts: options.endpoints.map((e) => `${scheme}://${e}`),
    dialTimeout: CALL_TIMEOUT_MS,
    // A deadline for each attempt of a call (a fixed one would be spent by a dead member before
    // the retry on a live one); watches and lease keepalives are streams and have none.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) }),
    ...(options.tls
      ? {
          credentials: {
            rootCertificate: readFileSync(options.tls.ca),
            ...(options.tls.cert ? { certChain: read(options.tls.cert)! } : {}),
            ...(options.tls.key ? { privateKey: read(options.tls.key)! } : {}),
          },
        }
      : {}),
    faultHandling: {
      // A member that fails three calls in a row is left alone for a second; a call is tried on
      // up to two other members.
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
      // etcd3 calls next() on it, as on a factory (its type says an IBackoff).
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
  });
}
