/**
 * What `warren stack deploy` does to a stack's services: create those the file adds, update
 * those it changes (through the health-gated rollout), leave the others alone, and with
 * `--prune` remove those gone from the file.
 */
import { specsMatch, type ServiceSpec } from '@warren/core';

export type StackStep =
  | { kind: 'create'; spec: ServiceSpec }
  | { kind: 'update'; spec: ServiceSpec }
  | { kind: 'unchanged'; name: string }
  | { kind: 'remove'; name: string };

/**
 * `current`: the stack's services as the manager has them. An image the manager pinned to its
 * digest (`name:tag@sha256:…`) stays pinned while the file names the same `name:tag`.
 */
export function stackPlan(
  wanted: readonly ServiceSpec[],
  current: readonly ServiceSpec[],
  prune: boolean,
): StackStep[] {
  const byName = new Map(current.map((s) => [s.name, s]));
  const steps: StackStep[] = wanted.map((spec): StackStep => {
    const now = byName.get(spec.name);
    if (!now) return { kind: 'create', spec };
    const pinned = now.image.startsWith(`${spec.image}@sha256:`) ? now.image : spec.image;
    const next = { ...spec, image: pinned, forceUpdate: now.forceUpdate };
    return sameSpec(next, now) ? { kind: 'unchanged', name: spec.name } : { kind: 'update', spec: next };
  });
  const kept = new Set(wanted.map((s) => s.name));
  if (prune) for (const s of current) if (!kept.has(s.name)) steps.push({ kind: 'remove', name: s.name });
  return steps;
}

function sameSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  const json = (x: unknown): string => JSON.stringify(x);
  return (
    specsMatch(a, b) &&
    a.replicas === b.replicas &&
    json(a.update) === json(b.update) &&
    json(a.rollback) === json(b.rollback)
  );
}
