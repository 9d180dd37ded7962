/**
 * Versions of a service for rollouts, built FROM the test image: `/` answers the tag; a bad
 * version has no /health (its health check fails). Used by the update tests and the update bench.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_IMAGE, docker, runToEnd } from './cluster.js';

/** Builds `repository:tag` and returns the reference. */
export async function buildVersion(repository: string, tag: string, bad = false): Promise<string> {
  const context = await mkdtemp(join(tmpdir(), 'warren-version-'));
  try {
    const lines = [`FROM ${TEST_IMAGE}`, `RUN echo ${tag} > /www/index.html${bad ? ' && rm /www/health' : ''}`];
    await writeFile(join(context, 'Dockerfile'), lines.join('\n') + '\n');
    const built = await runToEnd('docker', ['build', '-q', '-t', `${repository}:${tag}`, context], {
      DOCKER_BUILDKIT: '0',
    });
    if (built.code !== 0) throw new Error(`docker build failed: ${built.stderr}`);
    return `${repository}:${tag}`;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
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
