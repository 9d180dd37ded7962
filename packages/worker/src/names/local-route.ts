import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Makes every address of `cidr` local to this host (`ip route replace local CIDR dev lo`, an
 * AnyIP route): a process may listen on any of them without configuring each, and traffic to
 * them from containers arrives at the host through their default route. Idempotent. Resolves
 * whether the route is new: one that was there already (another worker's, or left by a worker
 * that was killed) is not this worker's to remove.
 */
export async function addLocalRoute(cidr: string): Promise<boolean> {
  try {
    const { stdout } = await run('ip', ['route', 'show', 'table', 'local', cidr, 'dev', 'lo'], { timeout: 5000 });
    await run('ip', ['route', 'replace', 'local', cidr, 'dev', 'lo'], { timeout: 5000 });
    return stdout.trim() === '';
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'the ip command (iproute2) is missing' : (e.stderr?.trim() ?? e.message);
    throw new Error(`cannot make ${cidr} local to this host: ${why}`, { cause: err });
  }
}

/** Removes the route addLocalRoute made; a route already gone is fine. */
export async function removeLocalRoute(cidr: string): Promise<void> {
  await run('ip', ['route', 'del', 'local', cidr, 'dev', 'lo', 'table', 'local'], { timeout: 5000 }).catch(
    () => undefined,
  );
}
