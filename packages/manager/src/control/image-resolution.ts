import {
  ValidationError,
  hasImage,
  imageDigest,
  imageRegistry,
  pinImageRef,
  type RegistryAuth,
  type ServiceSpec,
} from '@warren/core';
import type { ImageQueries } from './image-queries.js';
import type { NodeRecord } from '../store/store.js';

/** The image a service runs, and why it is not pinned when it is not. */
export interface ResolvedImage {
  image: string;
  note: string;
}

/**
 * Pins a service's image to a digest at create time, through a ready node's engine, so every
 * task runs the same bits even if the tag moves later. A reference that names no registry and is
 * already on a node (a locally built image) is used as found: there is no registry to ask. When
 * the registry says the image does not exist (and no node has it), the request is refused; when
 * it cannot be asked, the tag is used as found and the note says why.
 */
export async function resolveImage(
  spec: ServiceSpec,
  auth: RegistryAuth | undefined,
  ready: readonly NodeRecord[],
  queries: ImageQueries,
): Promise<ResolvedImage> {
  if (imageDigest(spec.image) !== '') return { image: spec.image, note: '' };
  const present = ready.some((n) => hasImage(n.images, spec.image));
  if (spec.pull === 'never') {
    if (ready.length > 0 && !present) {
      throw new ValidationError('--image', spec.image, 'no ready node has it, and --pull never forbids pulling it');
    }
    return { image: spec.image, note: 'not pinned: --pull never runs the image each node has' };
  }
  if (present && imageRegistry(spec.image) === '') {
    return { image: spec.image, note: 'not pinned: a local image (no registry named); each node runs the one it has' };
  }
  const asked = ready.find((n) => hasImage(n.images, spec.image)) ?? ready[0];
  if (!asked) return { image: spec.image, note: 'not pinned: no ready node could ask the registry' };
  const answer = await queries.ask(asked.id, spec.image, auth);
  if (answer.digest !== '') return { image: pinImageRef(spec.image, answer.digest), note: '' };
  if (answer.errorKind === 'not-found' && !present) throw new ValidationError('--image', spec.image, answer.error);
  return { image: spec.image, note: `not pinned: ${answer.error}` };
}
