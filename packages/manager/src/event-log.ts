/**
 * The manager's log at the default level tells what a user cares about, one line each: the
 * events (`warren events`), as they are committed — `web.2: task failed — liveness probe failed:
 * HTTP 500`. The steps that lead to them (a worker's report, a health record, a plan) are logged
 * at debug (WARREN_LOG_LEVEL=debug).
 */
import type { Logger } from 'pino';
import type { EventType, WarrenEvent } from '@warren/core';
import type { Store } from './store/store.js';

/** Events that mean something went wrong: warn, so that they stand out. */
const WARNINGS: ReadonlySet<EventType> = new Set([
  'task-failed',
  'replacement-held',
  'restart-limit-reached',
  'correlated-failure',
  'task-orphaned',
  'node-down',
  'node-degraded',
  'update-paused',
  'rollback-started',
  'rollback-paused',
]);

/** Logs every committed event until the returned function is called. */
export function logEvents(store: Pick<Store, 'onCommit'>, logger: Logger): () => void {
  return store.onCommit((_changes, events) => {
    for (const e of events) {
      // The service and slot are in the words; the task id, for grep.
      const fields = { event: e.type, task: e.taskId };
      logger[WARNINGS.has(e.type) ? 'warn' : 'info'](fields, eventWords(e));
    }
  });
}

/** `web.2: task failed — liveness probe failed: HTTP 500`; node events: `node ready — vm: heartbeats arrive`. */
export function eventWords(e: Pick<WarrenEvent, 'type' | 'service' | 'slot' | 'reason'>): string {
  const what = e.type.replace(/-/g, ' ');
  const where = e.service ? `${e.service}${e.slot ? `.${e.slot}` : ''}: ` : '';
  return e.reason ? `${where}${what} — ${e.reason}` : `${where}${what}`;
}
