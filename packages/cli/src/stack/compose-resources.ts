/**
 * Compose's `deploy.resources` as the flags it mirrors: `limits` (`cpus`, `memory`, `pids`) are
 * `--limit-*`, `reservations` (`cpus`, `memory`) are `--reserve-*`. Sizes are read as Docker's
 * (`50M`, `1g`, `512MiB`), CPUs as a decimal (`'0.5'`).
 */
import type { Resources } from '@warren/core';
import { resourcesFromFlags } from '../resource-flags.js';
import { isMapping, type Value } from './compose-file.js';

const LIMITS: Record<string, 'limitCpu' | 'limitMemory' | 'limitPids'> = {
  cpus: 'limitCpu',
  memory: 'limitMemory',
  pids: 'limitPids',
};
const RESERVATIONS: Record<string, 'reserveCpu' | 'reserveMemory'> = { cpus: 'reserveCpu', memory: 'reserveMemory' };

export function composeResources(
  value: Value | undefined,
  path: string,
  fail: (path: string, why: string) => never,
  at: <T>(path: string, f: () => T) => T,
): { resources?: Resources } {
  if (value === undefined || value === null) return {};
  if (!isMapping(value)) return fail(path, 'must be a mapping (limits, reservations)');
  const flags: Record<string, string> = {};
  for (const [part, keys] of [
    ['limits', LIMITS],
    ['reservations', RESERVATIONS],
  ] as const) {
    const given = value[part];
    if (given === undefined || given === null) continue;
    if (!isMapping(given)) return fail(`${path}.${part}`, 'must be a mapping');
    for (const [k, v] of Object.entries(given)) {
      const flag = keys[k];
      if (!flag) fail(`${path}.${part}.${k}`, `not supported (${Object.keys(keys).join(', ')})`);
      if (v === null || typeof v === 'object') fail(`${path}.${part}.${k}`, 'a number or a size');
      flags[flag] = String(v);
    }
  }
  const other = Object.keys(value).find((k) => k !== 'limits' && k !== 'reservations');
  if (other) fail(`${path}.${other}`, 'not supported (limits, reservations)');
  return at(path, () => resourcesFromFlags(flags));
}
