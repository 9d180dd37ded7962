/**
 * Image references as users write them (`warren-test`, `warren-test:latest`, `sha256:…`) and as
 * nodes report them (repo tags and image ids).
 */

/** `warren-test` → `warren-test:latest`; references with a tag, digest or id stay as they are. */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@') || ref.startsWith('sha256:')) return ref;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? ref : `${ref}:latest`;
}

/** Whether `ref` names one of `images` (normalized tags and `sha256:` ids) of a node. */
export function hasImage(images: readonly string[], ref: string): boolean {
  const wanted = normalizeImageRef(ref);
  if (images.includes(wanted)) return true;
  const id = wanted.startsWith('sha256:') ? wanted : /^[0-9a-f]{12,64}$/.test(ref) ? `sha256:${ref}` : undefined;
  return id !== undefined && images.some((image) => image.startsWith(id));
}
