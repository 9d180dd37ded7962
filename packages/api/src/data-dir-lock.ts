/**
 * One daemon per data dir: a pid file taken with O_EXCL (`<dir>/<role>.pid`). Two workers on one
 * directory would share a node identity and fight over its containers; two managers would share
 * a store. A pid file whose process is gone (killed, the machine restarted) is taken over.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** A data dir that cannot be used as it is: another daemon has it, or it belongs to another cluster. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(message);
  }
}

export class DataDirLock {
  private constructor(private readonly file: string) {}

  /** Takes `<dir>/<role>.pid`, or throws a DataDirError naming the process that holds it. */
  static async acquire(dir: string, role: 'manager' | 'worker'): Promise<DataDirLock> {
    const file = join(dir, `${role}.pid`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return new DataDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      }
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        const another = role === 'manager' ? 'another manager' : 'another worker';
        const own = role === 'manager' ? '--data-dir' : 'its own --data-dir';
        throw new DataDirError(
          dir,
          `the data dir ${resolve(dir)} is in use by ${another} (pid ${pid}): stop it, or give this one ${own}`,
        );
      }
      await rm(file, { force: true }); // left by a process that is gone
    }
  }

  /** Gives the data dir up (only if the pid file is still this process's). */
  async release(): Promise<void> {
    const pid = Number.parseInt(await readFile(this.file, 'utf8').catch(() => ''), 10);
    if (pid === process.pid) await rm(this.file, { force: true });
  }
}

/** A live process that is a Node.js process (a pid reused by something else is not a daemon of ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust the signal
  }
}
