/** `--limit-*`, `--reserve-*` (Swarm's flags) and `--health-throttled`, on create and update alike. */
import type { Command } from 'commander';
import {
  NO_RESOURCES,
  THROTTLED_POLICIES,
  ValidationError,
  hasResources,
  parseCpus,
  parseSize,
  type HealthSpec,
  type Resources,
  type ThrottledPolicy,
} from '@warren/core';
import { parseCount } from './numbers.js';

export interface ResourceOptions {
  limitCpu?: string;
  limitMemory?: string;
  limitPids?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  healthThrottled?: string;
}

export function addResourceOptions(command: Command): Command {
  return command
    .option('--limit-cpu <cpus>', 'CPUs each task may use, like 0.5 (0: no limit)')
    .option(
      '--limit-memory <size>',
      'memory each task may use, like 64m or 1GiB; past it, out of memory (0: no limit)',
    )
    .option('--limit-pids <n>', 'processes each task may run at once (0: no limit)')
    .option('--reserve-cpu <cpus>', "CPUs a node must have unreserved to take a task; they are then the task's")
    .option('--reserve-memory <size>', 'memory a node must have unreserved to take a task, like 32m')
    .option(
      '--health-throttled <policy>',
      'a probe failing while its container is CPU-throttled counts as: unknown (default; ' +
        'not counted, up to the retries in a row) or failure',
    );
}

/** The resources the flags ask for, each unset flag taken from `base`; absent when none is set. */
export function resourcesFromFlags(o: ResourceOptions, base = NO_RESOURCES): { resources?: Resources } {
  const cpus = (text: string | undefined, flag: string, value: number): number =>
    text === undefined ? value : parseCpus(text, flag);
  const size = (text: string | undefined, flag: string, value: number): number =>
    text === undefined ? value : parseSize(text, flag);
  const resources: Resources = {
    limits: {
      nanoCpus: cpus(o.limitCpu, '--limit-cpu', base.limits.nanoCpus),
      memoryBytes: size(o.limitMemory, '--limit-memory', base.limits.memoryBytes),
      pids: o.limitPids === undefined ? base.limits.pids : parseCount('--limit-pids', o.limitPids),
    },
    reservations: {
      nanoCpus: cpus(o.reserveCpu, '--reserve-cpu', base.reservations.nanoCpus),
      memoryBytes: size(o.reserveMemory, '--reserve-memory', base.reservations.memoryBytes),
    },
  };
  return hasResources(resources) ? { resources } : {};
}

/** `health` with `--health-throttled` applied (unset: as it was). */
export function throttledFromFlags(o: ResourceOptions, health: HealthSpec): HealthSpec {
  if (o.healthThrottled === undefined) return health;
  if (!(THROTTLED_POLICIES as readonly string[]).includes(o.healthThrottled)) {
    const why = `use one of ${THROTTLED_POLICIES.join(', ')}`;
    throw new ValidationError('--health-throttled', o.healthThrottled, why);
  }
  const { throttled: _, ...rest } = health;
  const policy = o.healthThrottled as ThrottledPolicy;
  return policy === 'unknown' ? rest : { ...rest, throttled: policy };
}
