import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { parseCpuStat, type CpuPeriods } from '@warren/core';

/** Where cgroup hierarchies are mounted on Docker's hosts. */
const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Reads how often a container's CPU quota ran out, from its cgroup's `cpu.stat` (`nr_periods`,
 * `nr_throttled`): under cgroup v1 in the `cpu` hierarchy, under v2 in the unified one. The
 * container's cgroup is found once, from its main process's `/proc/<pid>/cgroup` (whatever the
 * engine's cgroup driver), then read with one small synchronous read per probe edge: a sysfs file
 * answers at once, and a read that hops to the thread pool would cost more than it does.
 */
export class CpuThrottleReader {
  readonly #paths = new Map<string, string | null>();

  constructor(
    private readonly docker: Docker,
    private readonly root = CGROUP_ROOT,
  ) {}

  /** The container's counters now; undefined when its cgroup cannot be read (gone, no cgroup fs). */
  async read(containerId: string): Promise<CpuPeriods | undefined> {
    let path = this.#paths.get(containerId);
    if (path === undefined) {
      path = await this.#find(containerId);
      this.#paths.set(containerId, path);
    }
    if (path === null) return undefined;
    try {
      return parseCpuStat(readFileSync(path, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Forgets a container (its task stopped being probed). */
  forget(containerId: string): void {
    this.#paths.delete(containerId);
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
