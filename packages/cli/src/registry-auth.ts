import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ValidationError, imageRegistry, type RegistryAuth } from '@warren/core';

/** Docker Hub's key in config.json, for references that name no registry. */
const DOCKER_HUB = 'https://index.docker.io/v1/';

/**
 * `--with-registry-auth`: the CLI user's credentials for the image's registry, read from Docker's
 * config (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`), as `docker service create
 * --with-registry-auth` does. Credential helpers (`credsStore`, `credHelpers`) are not run: log in
 * so that config.json holds the credentials (`auths`), or the command says what is missing.
 */
export async function registryAuthFor(image: string, env = process.env): Promise<RegistryAuth> {
  const registry = registryOf(image);
  const file = join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as typeof config;
  } catch (err) {
    // Never the parser's message: it would quote the file, credentials included.
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code ? `cannot be read (${code})` : 'is not valid JSON';
    throw new ValidationError('--with-registry-auth', file, `${why} (log in with docker login ${registry} first)`);
  }
  const entry = Object.entries(config.auths ?? {}).find(([key]) => sameRegistry(key, registry))?.[1];
  if (!entry) {
    throw new ValidationError(
      '--with-registry-auth',
      file,
      `has no credentials for ${registry} (docker login ${registry})`,
    );
  }
  const [username, password] = entry.auth
    ? splitOnce(Buffer.from(entry.auth, 'base64').toString('utf8'), ':')
    : [entry.username ?? '', entry.password ?? ''];
  if (!username)
    throw new ValidationError('--with-registry-auth', file, `its entry for ${registry} holds no user name`);
  return { username, password, serverAddress: registry };
}

/** The registry a reference names, as config.json keys it: Docker Hub's key when it names none. */
export function registryOf(image: string): string {
  return imageRegistry(image) || DOCKER_HUB;
}

function sameRegistry(key: string, registry: string): boolean {
  const host = (k: string): string => k.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return key === registry || host(key) === host(registry);
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}
