import { ValidationError } from './errors.js';

/**
 * What a task may use (limits, given to its container) and what it is promised (reservations,
 * which decide where it is placed), as Swarm's `--limit-*` and `--reserve-*`. 0 means none.
 */
export interface Resources {
  limits: { nanoCpus: number; memoryBytes: number; pids: number };
  reservations: Capacity;
}

/** CPUs (in billionths) and memory: what a node has, what its tasks reserve, what one needs. */
export interface Capacity {
  nanoCpus: number;
  memoryBytes: number;
}

export const NO_RESOURCES: Resources = {
  limits: { nanoCpus: 0, memoryBytes: 0, pids: 0 },
  reservations: { nanoCpus: 0, memoryBytes: 0 },
};

const NANO = 1e9;
const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i;
/** The engine refuses a memory limit below 6 MiB. */
export const MIN_MEMORY_LIMIT = 6 * 2 ** 20;
/** The engine's smallest CPU limit: a hundredth of a CPU. */
const MIN_NANO_CPUS = NANO / 100;
const MAX_BYTES = 2 ** 50;
const MAX_NANO_CPUS = 1024 * NANO;
const MAX_PIDS = 4_194_304;

/**
 * A size as Docker and Swarm read one: `64m`, `64MiB`, `64MB`, `1g`, `1.5GiB`, `1048576` (bytes).
 * Units are powers of 1024 whatever their spelling, as `docker run --memory` takes them.
 */
export function parseSize(text: string, flag: string): number {
  const m = SIZE.exec(text.trim());
  const bytes = m ? Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!m || !Number.isFinite(bytes) || bytes > MAX_BYTES) {
    throw new ValidationError(flag, text, 'write a size like 64m, 64MiB, 1g or 1GiB');
  }
  return bytes;
}

/** CPUs as a decimal number (`0.5`, `2`), in billionths as the Engine API's `NanoCpus`. */
export function parseCpus(text: string, flag: string): number {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) throw new ValidationError(flag, text, 'write a number of CPUs like 0.5 or 2');
  return Math.round(Number(t) * NANO);
}

/** Checks a spec's resources: sizes in range, and no reservation above its limit. */
export function validateResources(r: Resources): Resources {
  const whole = (flag: string, n: number, max: number): void => {
    if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new ValidationError(flag, n, 'out of range');
  };
  whole('--limit-cpu', r.limits.nanoCpus, MAX_NANO_CPUS);
  whole('--reserve-cpu', r.reservations.nanoCpus, MAX_NANO_CPUS);
  whole('--limit-memory', r.limits.memoryBytes, MAX_BYTES);
  whole('--reserve-memory', r.reservations.memoryBytes, MAX_BYTES);
  whole('--limit-pids', r.limits.pids, MAX_PIDS);
  if (r.limits.nanoCpus > 0 && r.limits.nanoCpus < MIN_NANO_CPUS) {
    throw new ValidationError('--limit-cpu', formatCpus(r.limits.nanoCpus), 'must be at least 0.01 CPU');
  }
  if (r.limits.memoryBytes > 0 && r.limits.memoryBytes < MIN_MEMORY_LIMIT) {
    throw new ValidationError('--limit-memory', formatBytes(r.limits.memoryBytes), 'must be at least 6 MiB');
  }
  const { limits: l, reservations: v } = r;
  if (l.nanoCpus > 0 && v.nanoCpus > l.nanoCpus) {
    const why = `is above --limit-cpu ${formatCpus(l.nanoCpus)}`;
    throw new ValidationError('--reserve-cpu', formatCpus(v.nanoCpus), why);
  }
  if (l.memoryBytes > 0 && v.memoryBytes > l.memoryBytes) {
    const why = `is above --limit-memory ${formatBytes(l.memoryBytes)}`;
    throw new ValidationError('--reserve-memory', formatBytes(v.memoryBytes), why);
  }
  return r;
}

/** Whether a spec sets anything: specs without resources leave the field out. */
export function hasResources(r: Resources | undefined): r is Resources {
  return r !== undefined && [...Object.values(r.limits), ...Object.values(r.reservations)].some((n) => n > 0);
}

/** `64 MiB`, `1.5 GiB`, `23.51 GiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    // Two decimals at most: 32 MiB reserved of 23.54 GiB must show (23.51 GiB free).
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} B`;
}

/** `0.5 CPU`, `2 CPUs`. */
export function formatCpus(nanoCpus: number): string {
  const cpus = Number((nanoCpus / NANO).toFixed(3));
  return `${cpus} ${cpus === 1 || cpus < 1 ? 'CPU' : 'CPUs'}`;
}

/** `limits 0.5 CPU, 64 MiB memory, 200 processes; reserved 0.25 CPU, 32 MiB memory`, or ''. */
export function resourcesText(r: Resources | undefined): string {
  if (!hasResources(r)) return '';
  const parts = (c: { nanoCpus: number; memoryBytes: number; pids?: number }): string[] => [
    ...(c.nanoCpus > 0 ? [formatCpus(c.nanoCpus)] : []),
    ...(c.memoryBytes > 0 ? [`${formatBytes(c.memoryBytes)} memory`] : []),
    ...(c.pids ? [`${c.pids} processes`] : []),
  ];
  const limits = parts(r.limits);
  const reserved = parts(r.reservations);
  return [
    ...(limits.length > 0 ? [`limits ${limits.join(', ')}`] : []),
    ...(reserved.length > 0 ? [`reserved ${reserved.join(', ')}`] : []),
  ].join('; ');
}

/** What a task of a spec reserves on its node. */
export function reservationOf(spec: { resources?: Resources } | undefined): Capacity {
  return spec?.resources?.reservations ?? NO_RESOURCES.reservations;
}

export function addCapacity(a: Capacity, b: Capacity): Capacity {
  return { nanoCpus: a.nanoCpus + b.nanoCpus, memoryBytes: a.memoryBytes + b.memoryBytes };
}

/** A node's capacity less what is reserved on it (never below 0). */
export function freeCapacity(capacity: Capacity, reserved: Capacity): Capacity {
  return {
    nanoCpus: Math.max(0, capacity.nanoCpus - reserved.nanoCpus),
    memoryBytes: Math.max(0, capacity.memoryBytes - reserved.memoryBytes),
  };
}

/** Whether `need` fits in `free`; a node whose capacity is not known (undefined) takes anything. */
export function fits(need: Capacity, free: Capacity | undefined): boolean {
  return free === undefined || (need.nanoCpus <= free.nanoCpus && need.memoryBytes <= free.memoryBytes);
}

/**
 * Why a task needing `need` fits none of the nodes with `free` room, in words:
 * `no node has 4 GiB unreserved memory (2 nodes checked)`.
 */
export function noRoomReason(need: Capacity, free: readonly Capacity[]): string {
  const shortOfCpu = free.some((f) => need.nanoCpus > f.nanoCpus);
  const shortOfMemory = free.some((f) => need.memoryBytes > f.memoryBytes);
  const cpus = formatCpus(need.nanoCpus);
  const memory = formatBytes(need.memoryBytes);
  const what =
    shortOfCpu && shortOfMemory
      ? `${cpus} and ${memory} of memory unreserved`
      : shortOfCpu
        ? `${cpus} unreserved`
        : `${memory} unreserved memory`;
  return `no node has ${what} (${free.length} ${free.length === 1 ? 'node' : 'nodes'} checked)`;
}
