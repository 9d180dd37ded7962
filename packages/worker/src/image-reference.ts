import { normalizeImageRef } from '@warren/core';

/**
 * The reference to pull: `name:tag` (`:latest` when none is given), or `name@sha256:…` when a
 * digest is given (the digest decides; a tag beside it says nothing more).
 */
export function pullReference(ref: string): string {
  const at = ref.indexOf('@');
  return at < 0 ? normalizeImageRef(ref) : `${repositoryOf(ref)}${ref.slice(at)}`;
}

/** `127.0.0.1:5000/team/app:v2@sha256:…` → `127.0.0.1:5000/team/app`. */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
}

/**
 * The repo digest (`name@sha256:…`) of `ref`'s repository among an image's `RepoDigests`; ''
 * if none. Docker Hub names compare in their short form (`docker.io/library/nginx` is `nginx`).
 */
export function repoDigestOf(ref: string, repoDigests: readonly string[]): string {
  const wanted = familiarName(repositoryOf(ref));
  return repoDigests.find((d) => familiarName(repositoryOf(d)) === wanted) ?? '';
}

function familiarName(repository: string): string {
  return repository.replace(/^(docker\.io|index\.docker\.io)\//, '').replace(/^library\/(?=[^/]+$)/, '');
}
