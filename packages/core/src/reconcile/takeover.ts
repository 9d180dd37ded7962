import type { TaskHealthRecords, TaskHealthSummary } from '../health.js';

/**
 * A manager that begins to lead (a failover, a restart) replaces nothing on a health verdict
 * older than `since` until a run after it confirms it (DESIGN 9): the verdict may be stale (the
 * task recovered while no manager listened), and the worker sends a fresh result within one
 * interval. A verdict reached after `since`, or confirmed by a counted failure after it, stands.
 */
export function confirmedSince(
  summary: TaskHealthSummary,
  records: TaskHealthRecords,
  since: number,
): TaskHealthSummary {
  const failing = summary.failing;
  if (!failing || failing.since >= since) return summary;
  const fresh = records[failing.phase]?.results.some((r) => r.counted && r.outcome === 'failure' && r.at >= since);
  if (fresh) return summary;
  const rest: TaskHealthSummary = { ...summary };
  delete rest.failing;
  return rest;
}
