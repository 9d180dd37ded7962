/** A service's last rollout and its previous spec, in `service inspect` (text and JSON). */
import type { ServiceSpec } from '@warren/core';
import { specFromWire, type wire } from '@warren/api/convert';
import { ago } from '../output.js';
import { STATE_WORDS } from './rollout.js';

type Status = NonNullable<wire.ServiceOut['updateStatus']>;

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

/**
 * The value of `Update status:`, '' when the service was never updated: `update paused; started 3m
 * ago, ended 1m ago; 1 new task succeeded, 1 failed`, then the manager's message on a line of its own.
 */
export function updateStatusText(status: Status | null, now = Date.now()): string {
  if (!status) return '';
  const when = [`started ${ago(status.startedAtMs, now)}`];
  if (status.completedAtMs > 0) when.push(`ended ${ago(status.completedAtMs, now)}`);
  const tasks = `${status.succeeded} new task${status.succeeded === 1 ? '' : 's'} succeeded, ${status.failed} failed`;
  const line = `${STATE_WORDS[status.state] ?? status.state}; ${when.join(', ')}; ${tasks}`;
  return status.message ? `${line}\n${status.message}` : line;
}

/** The value of `Previous spec:`, '' when there is none: what differs, and how to return to it. */
export function previousSpecText(service: wire.ServiceOut): string {
  if (!service.previousSpec) return '';
  const previous = specFromWire(service.previousSpec);
  const spec = specFromWire(service.spec);
  const keys = (Object.keys(spec) as Array<keyof ServiceSpec>).filter(
    (k) => JSON.stringify(spec[k]) !== JSON.stringify(previous[k]),
  );
  const differs = keys.map((k) => (k === 'image' ? `image (${previous.image})` : k));
  const what = differs.length > 0 ? `yes, it differs in ${differs.join(', ')}` : 'yes, the same';
  return `${what}; warren service rollback ${spec.name} returns to it`;
}

/** `updateStatus` of the JSON views: null when the service was never updated. */
export function updateStatusJson(status: Status | null) {
  if (!status) return null;
  return {
    state: status.state,
    startedAt: iso(status.startedAtMs),
    /** null while the rollout goes on. */
    completedAt: iso(status.completedAtMs),
    message: status.message,
    succeeded: status.succeeded,
    failed: status.failed,
  };
}
