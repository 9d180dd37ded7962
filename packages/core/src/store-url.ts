import { ValidationError } from './errors.js';

/** Where several managers keep their state (`--store etcd://…`, DESIGN 9). */
export interface StoreUrl {
  /** `host:port` of each etcd member. */
  endpoints: string[];
  /** The keys of one Warren cluster in etcd start with this (several clusters may share an etcd). */
  prefix: string;
}

export const DEFAULT_ETCD_PREFIX = 'warren/';

/**
 * `etcd://host:port[,host:port…][/prefix/]` → endpoints and prefix; anything else is a
 * ValidationError naming `--store`. `leveldb` (or nothing) is the embedded default: undefined.
 */
export function parseStoreUrl(text: string | undefined): StoreUrl | undefined {
  if (text === undefined || text === '' || text === 'leveldb') return undefined;
  const bad = (why: string): never => {
    throw new ValidationError('--store', text, why);
  };
  const match = /^etcd:\/\/([^/]+)(\/.*)?$/.exec(text);
  if (!match) return bad('write etcd://host:port[,host:port…] (or leave it out for LevelDB in the data dir)');
  const endpoints = match[1]!.split(',');
  for (const endpoint of endpoints) {
    const hostPort = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint);
    if (!hostPort || Number(hostPort[2]) < 1 || Number(hostPort[2]) > 65535) {
      bad(`${JSON.stringify(endpoint)} is not host:port`);
    }
  }
  const path = match[2] ?? '';
  const prefix = path === '' || path === '/' ? DEFAULT_ETCD_PREFIX : `${path.replace(/^\/+|\/+$/g, '')}/`;
  if (!/^[A-Za-z0-9._/-]+\/$/.test(prefix)) bad(`${JSON.stringify(path)} is not a key prefix`);
  return { endpoints, prefix };
}
