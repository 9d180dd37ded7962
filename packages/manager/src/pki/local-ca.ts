import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ClusterCa, writeSecretFile } from '@warren/api';

/** Where a manager keeps the CA in its data dir (the key 0600). */
export function caFiles(dataDir: string): { cert: string; key: string } {
  const dir = join(dataDir, 'certs');
  return { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
}

/** The CA kept in `<dataDir>/certs`, undefined when there is none. */
export async function keptCa(dataDir: string): Promise<ClusterCa | undefined> {
  const files = caFiles(dataDir);
  const kept = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]).catch(() => undefined);
  return kept && ClusterCa.load(...kept);
}

/** Keeps `ca` in `<dataDir>/certs`. */
export async function keepCa(dataDir: string, ca: ClusterCa): Promise<void> {
  const files = caFiles(dataDir);
  await writeSecretFile(files.key, ca.keyPem);
  await writeSecretFile(files.cert, ca.certPem);
}

/** A single manager's CA (LevelDB): the one in its data dir, or a new one at the first start. */
export async function localCa(dataDir: string, logger: Logger): Promise<ClusterCa> {
  const kept = await keptCa(dataDir);
  if (kept) return kept;
  const ca = await ClusterCa.create();
  await keepCa(dataDir, ca);
  logger.info({ caHash: ca.hash }, 'cluster CA created');
  return ca;
}
