/**
 * With etcd, the managers share one CA (DESIGN 9): the first manager creates it and publishes its
 * certificate, its key sealed with the manager join secret, that secret sealed with the key, and
 * the workers' join secret — all at once, only if no manager did before (a transaction). A manager
 * that does not hold the CA in its data dir joins with `--token` (`warren join-token manager`):
 * the token names the CA by its hash and its secret unseals the key, which it then keeps in its
 * data dir. Every manager signs with the same CA, so workers trust all of them.
 */
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { FailedPreconditionError, UnauthenticatedError } from '@warren/core';
import { ClusterCa, certificateHash, newJoinSecret, parseJoinToken } from '@warren/api';
import { keepCa, keptCa } from './local-ca.js';
import { CA_CERT, CA_KEY_SEALED, MANAGER_SECRET_KEY, openCaKey, sealCaKey, sealManagerSecret } from './sealing.js';
import { SECRET_KEY } from './cluster-pki.js';

export async function sharedCa(options: {
  client: Etcd3;
  /** The cluster's key prefix in etcd (`warren/`). */
  prefix: string;
  dataDir: string;
  /** `warren join-token manager`, to join a cluster whose CA this data dir does not hold. */
  token?: string;
  where: string;
  logger: Logger;
}): Promise<ClusterCa> {
  const { client, prefix, dataDir, logger } = options;
  const meta = (key: string): string => `${prefix}state/meta:${key}`;
  const read = async (key: string): Promise<string | undefined> => {
    const value = await client.get(meta(key)).string();
    return value === null ? undefined : (JSON.parse(value) as string);
  };
  const kept = await keptCa(dataDir);
  let published = await read(CA_CERT);
  if (published === undefined) {
    if (options.token) {
      throw new FailedPreconditionError(
        `there is no Warren cluster in ${options.where} to join: start the first manager without --token`,
      );
    }
    const ca = kept ?? (await ClusterCa.create());
    const managerSecret = newJoinSecret();
    const put = (key: string, value: string) => client.put(meta(key)).value(JSON.stringify(value));
    const res = await client
      .if(meta(CA_CERT), 'Create', '==', 0)
      .then(
        put(CA_CERT, ca.certPem),
        put(CA_KEY_SEALED, sealCaKey(ca, managerSecret)),
        put(MANAGER_SECRET_KEY, sealManagerSecret(managerSecret, ca)),
        put(SECRET_KEY, newJoinSecret()),
      )
      .commit();
    if (res.succeeded) {
      if (!kept) await keepCa(dataDir, ca);
      logger.info({ caHash: ca.hash }, 'cluster CA created and shared in etcd');
      return ca;
    }
    published = (await read(CA_CERT))!; // another manager created it meanwhile
  }
  const hash = certificateHash(published);
  if (kept && kept.hash === hash) return kept;
  if (!options.token) {
    throw new FailedPreconditionError(
      `the cluster in ${options.where} has a CA this manager does not hold (CA ${hash.slice(0, 16)}…): ` +
        'start it with --token (warren join-token manager on a manager shows it)',
    );
  }
  const token = parseJoinToken(options.token);
  if (token.caHash !== hash) {
    throw new UnauthenticatedError(
      `--token is for another cluster (CA ${token.caHash.slice(0, 16)}…) than the one in ${options.where} ` +
        `(CA ${hash.slice(0, 16)}…)`,
    );
  }
  const sealed = await read(CA_KEY_SEALED);
  if (sealed === undefined) throw new FailedPreconditionError(`the CA's key is missing in ${options.where}`);
  const ca = await ClusterCa.load(published, openCaKey(sealed, hash, token.secret));
  await keepCa(dataDir, ca);
  logger.info({ caHash: ca.hash }, 'joined the managers: the cluster CA is kept in the data dir');
  return ca;
}
