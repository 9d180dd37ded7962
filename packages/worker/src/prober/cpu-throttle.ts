import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type Docker from 'dockerode';
import { parseCpuStat, type CpuPeriods } from '@warren/core';

/** Where cgroup hierarchies are mounted on Docker's hosts. */
const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Reads how often a container's CPU quota ran out, from its cgroup's `cpu.stat` (`nr_periods`,
 * `nr_throttled`): under cgroup v1 in the `cpu` hierarchy, under v2 in the unified one. The
 * container's cgroup is found once, from its main process's `/proc/<pid>/cgroup` (whatever the
 * engine's cgroup driver), and its file kept open: each probe edge is one synchronous pread (a
 * cgroup file answers at once; a read through the thread pool, or an open and close each time,
 * would cost more than it does).
 */
export class CpuThrottleReader {
  /** The open `cpu.stat` of each container, once found (null: it has none that can be read). */
  readonly #files = new Map<string, Promise<number | null>>();
  readonly #buffer = Buffer.alloc(4096);

  constructor(
    private readonly docker: Docker,
    private readonly root = CGROUP_ROOT,
  ) {}

  /** The container's counters now; undefined when its cgroup cannot be read (gone, no cgroup fs). */
  async read(containerId: string): Promise<CpuPeriods | undefined> {
    let file = this.#files.get(containerId);
    if (!file) {
      file = this.#find(containerId).then((path) => (path === null ? null : openSync(path, 'r')));
      this.#files.set(containerId, file);
    }
    const fd = await file.catch(() => null);
    if (fd === null || this.#files.get(containerId) !== file) return undefined;
    try {
      // One pread from offset 0: the kernel writes the counters afresh for each read from the start.
      const length = readSync(fd, this.#buffer, 0, this.#buffer.length, 0);
      return parseCpuStat(this.#buffer.toString('utf8', 0, length));
    } catch {
      return undefined;
    }
  }

  /** Forgets a container (its task stopped being probed), closing its file. */
  forget(containerId: string): void {
    const file = this.#files.get(containerId);
    this.#files.delete(containerId);
    void file?.then((fd) => fd !== null && closeSync(fd)).catch(() => undefined);
  }

  async #find(containerId: string): Promise<string | null> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      const lines = readFileSync(`/proc/${info.State.Pid}/cgroup`, 'utf8').split('\n');
      return cpuStatPath(lines, this.root);
    } catch {
      return null;
    }
  }
}

/**
 * The `cpu.stat` of a process's cgroup, from the lines of `/proc/<pid>/cgroup`: the v1 line whose
 * controllers include `cpu` (mounted as `cpu` or `cpu,cpuacct`), else the v2 line (`0::/path`).
 */
export function cpuStatPath(lines: readonly string[], root: string): string | null {
  const fields = lines.map((l) => l.split(':')).filter((f) => f.length >= 3);
  const v1 = fields.find((f) => f[1]!.split(',').includes('cpu'));
  const candidates = v1
    ? [`${root}/${v1[1]}`, `${root}/cpu`, `${root}/cpu,cpuacct`].map((dir) => `${dir}${cgroupPath(v1)}/cpu.stat`)
    : fields.filter((f) => f[0] === '0' && f[1] === '').map((f) => `${root}${cgroupPath(f)}/cpu.stat`);
  for (const path of candidates) {
    try {
      if (parseCpuStat(readFileSync(path, 'utf8'))) return path;
    } catch {
      // Not mounted there: the next one.
    }
  }
  return null;
}

/** The cgroup path of a `/proc/<pid>/cgroup` line (it may hold ':'). */
function cgroupPath(fields: string[]): string {
  return fields.slice(2).join(':');
}
