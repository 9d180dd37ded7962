/**
 * Versions of a service for rollouts, built FROM the test image: `/` answers the tag; a bad
 * version has no /health (its health check fails). Used by the update tests and the update bench.
 */
import { docker } from './cluster.js';
import { dockerBuild } from './images.js';

/** Builds `repository:tag` and returns the reference. */
export function buildVersion(repository: string, tag: string, bad = false): Promise<string> {
  return dockerBuild(`${repository}:${tag}`, [`RUN echo ${tag} > /www/index.html${bad ? ' && rm /www/health' : ''}`]);
}

/** Removes images built by buildVersion (missing ones are fine). */
export async function removeVersions(refs: Iterable<string>): Promise<void> {
  for (const ref of refs) {
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  }
}
