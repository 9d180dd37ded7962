/** Local test images built on warren-test (busybox FROM scratch) with Dockerfile lines of a test's own. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TEST_IMAGE, docker, runToEnd } from './cluster.js';

export interface LocalImage {
  ref: string;
  remove(): Promise<void>;
}

/** Builds `FROM warren-test` plus `lines` as the local image `ref`. */
export async function dockerBuild(ref: string, lines: string[]): Promise<string> {
  const context = await mkdtemp(join(tmpdir(), 'warren-image-'));
  try {
    await writeFile(join(context, 'Dockerfile'), [`FROM ${TEST_IMAGE}`, ...lines].join('\n') + '\n');
    // The classic builder: BuildKit would keep a build cache that removing the image leaves behind.
    const built = await runToEnd('docker', ['build', '-q', '-t', ref, context], { DOCKER_BUILDKIT: '0' }, 60_000);
    if (built.code !== 0) throw new Error(`docker build of ${ref} failed: ${built.stderr}`);
    return ref;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** Builds `FROM warren-test` plus `lines` as a new local image, `warren-<name>-<random>:1`. */
export async function buildLocalImage(name: string, lines: string[]): Promise<LocalImage> {
  const ref = await dockerBuild(`warren-${name}-${randomBytes(3).toString('hex')}:1`, lines);
  return {
    ref,
    remove: () =>
      docker
        .getImage(ref)
        .remove({ force: true })
        .then(() => undefined),
  };
}
