/**
 * Image references as users write them (`warren-test`, `redis:7`, `127.0.0.1:5000/team/web:v1`,
 * `web@sha256:…`, `sha256:…`) and as nodes report them (repo tags, repo digests and image ids).
 */

/** A reference in parts: `[domain/]path[:tag][@digest]`; an image id is a reference of its own. */
export interface ImageRef {
  /** The repository: `[domain/]path` (`127.0.0.1:5000/team/web`, `redis`). */
  repository: string;
  /** '' when none was written. */
  tag: string;
  /** `sha256:…`, '' when none was written. */
  digest: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
// A first component is a registry when it has a dot or a port, or is localhost (as Docker reads it).
const DOMAIN = '(?:(?:localhost|[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)+)(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+)';
const REFERENCE = new RegExp(
  `^((?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`,
);
const IMAGE_ID = /^(?:sha256:)?[0-9a-f]{12,64}$/;

/** The parts of a reference, or undefined when it is not one (an image id is not parsed). */
export function parseImageRef(ref: string): ImageRef | undefined {
  const m = REFERENCE.exec(ref);
  if (!m || ref.length > 512) return undefined;
  return { repository: m[1]!, tag: m[2] ?? '', digest: m[3] ?? '' };
}

/** Whether `ref` names an image: a reference or an image id. */
export function isImageRef(ref: string): boolean {
  return parseImageRef(ref) !== undefined || IMAGE_ID.test(ref);
}

/** `warren-test` → `warren-test:latest`; references with a tag, digest or id stay as they are. */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@') || ref.startsWith('sha256:')) return ref;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? ref : `${ref}:latest`;
}

/** The reference pinned to a digest: `127.0.0.1:5000/team/web:v1@sha256:…` (the tag stays, for people). */
export function pinImageRef(ref: string, digest: string): string {
  const parts = parseImageRef(ref);
  if (!parts) return ref;
  return `${parts.repository}:${parts.tag || 'latest'}@${digest}`;
}

/** The digest a reference is pinned to, '' if none. */
export function imageDigest(ref: string): string {
  return parseImageRef(ref)?.digest ?? '';
}

/**
 * Whether `ref` names one of `images` (normalized tags, `repository@sha256:…` repo digests and
 * `sha256:` ids) of a node. A pinned reference matches its repo digest only: the tag may have moved.
 */
export function hasImage(images: readonly string[], ref: string): boolean {
  const parts = parseImageRef(ref);
  if (parts?.digest) return images.includes(`${parts.repository}@${parts.digest}`);
  const wanted = normalizeImageRef(ref);
  if (images.includes(wanted)) return true;
  const id = wanted.startsWith('sha256:') ? wanted : /^[0-9a-f]{12,64}$/.test(ref) ? `sha256:${ref}` : undefined;
  return id !== undefined && images.some((image) => image.startsWith(id));
}

/**
 * The registry a reference names: `127.0.0.1:5000/team/web:v1` → `127.0.0.1:5000`; '' when it
 * names none (Docker Hub), as Docker reads a first component with a dot or a port, or localhost.
 */
export function imageRegistry(ref: string): string {
  const repository = parseImageRef(ref)?.repository ?? ref;
  const first = repository.includes('/') ? repository.slice(0, repository.indexOf('/')) : '';
  return first === 'localhost' || first.includes('.') || first.includes(':') ? first : '';
}
