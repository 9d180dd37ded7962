/**
 * Where a manager's state and CA come from: LevelDB and a CA in the data dir (one manager, the
 * embedded default), or etcd (`--store etcd://…`) with a CA the managers share (pki/shared-ca.ts).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { FailedPreconditionError } from '@warren/core';
import type { ClusterCa } from '@warren/api';
import { localCa } from './pki/local-ca.js';
import { sharedCa } from './pki/shared-ca.js';
import { EtcdBackend, type FencedError } from './store/etcd/backend.js';
import { etcdClient, parseStoreUrl, type EtcdStoreOptions } from './store/etcd/connect.js';
import { Store } from './store/store.js';

/** etcd cannot be reached at start: one line naming the endpoints (exit 1). */
export class StoreUnreachableError extends Error {
  override readonly name = 'StoreUnreachableError';
}

export interface StateOptions {
  dataDir: string;
  /** `etcd://h1:2379,h2:2379` (`--store`); undefined: LevelDB in the data dir. */
  store?: string;
  /** TLS to etcd: its CA and this manager's client certificate (file paths). */
  etcdTls?: EtcdStoreOptions['tls'];
  /** `warren join-token manager`: join a cluster on etcd whose CA this data dir does not hold. */
  token?: string;
  logger: Logger;
}

export interface OpenedState {
  store: Store;
  ca: ClusterCa;
  /** This manager's id, kept in its data dir. */
  id: string;
  /** `LevelDB in /var/lib/warren/store`, `etcd at h1:2379, h2:2379`. */
  where: string;
  etcd?: { client: Etcd3; prefix: string; endpoints: string[]; backend: EtcdBackend };
  /** Closes the store (writing what it held back) and the etcd client. */
  close(): Promise<void>;
}

/** Opens the state; `onFenced` is told when a write finds that this manager no longer leads. */
export async function openState(o: StateOptions, onFenced: (err: FencedError) => void): Promise<OpenedState> {
  const parsed = parseStoreUrl(o.store);
  await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
  const id = await managerId(o.dataDir);
  if (!parsed) {
    const storeDir = join(o.dataDir, 'store');
    // Only the owner reads the store: it holds the join token and registry credentials.
    await mkdir(storeDir, { recursive: true, mode: 0o700 });
    await chmod(storeDir, 0o700);
    const store = await Store.open(storeDir).catch((err: unknown) => {
      throw new FailedPreconditionError(`cannot open the store in ${storeDir}: ${(err as Error).message}`);
    });
    try {
      const ca = await localCa(o.dataDir, o.logger);
      return { store, ca, id, where: `LevelDB in ${storeDir}`, close: () => store.close() };
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const where = `etcd at ${parsed.endpoints.join(', ')}`;
  const client = etcdClient({ ...parsed, ...(o.etcdTls ? { tls: o.etcdTls } : {}) });
  try {
    await client.get(`${parsed.prefix}leader`).exec();
  } catch (err) {
    client.close();
    throw new StoreUnreachableError(`cannot reach ${where} (--store): ${etcdRefusal(err as Error)}`);
  }
  try {
    const ca = await sharedCa({
      client,
      prefix: parsed.prefix,
      dataDir: o.dataDir,
      where,
      logger: o.logger,
      ...(o.token ? { token: o.token } : {}),
    });
    const backend = new EtcdBackend(client, parsed.prefix, o.logger.child({ component: 'store' }), onFenced);
    const store = await Store.load(backend);
    const close = async (): Promise<void> => {
      await store.close();
      client.close();
    };
    return {
      store,
      ca,
      id,
      where,
      etcd: { client, prefix: parsed.prefix, endpoints: parsed.endpoints, backend },
      close,
    };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** A manager's id: made at its first start, kept in `<dataDir>/manager-id`. */
async function managerId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'manager-id');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[0-9a-f]{12}$/.test(kept)) return kept;
  const id = randomBytes(6).toString('hex');
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/** gRPC's words for a failed connection to etcd, on one line, and what a TLS refusal means. */
function etcdRefusal(err: Error): string {
  const words = err.message
    .replace(/\s*Resolution note:.*$/s, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (/alert bad certificate|certificate required/.test(words))
    return `etcd refused this manager's TLS client certificate (--etcd-cert, --etcd-key): ${words}`;
  if (/self.signed|unable to verify|unknown ca|altnames/i.test(words))
    return `etcd's certificate is not one --etcd-cacert trusts for that address: ${words}`;
  return words;
}
