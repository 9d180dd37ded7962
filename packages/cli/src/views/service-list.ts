/** The table views of `service ls` and `service ps`. */
import { specFromWire, type wire } from '@warren/api/convert';
import { ago, shortId, table } from '../output.js';
import { portsColumn } from './service-ports.js';

/** `service ls`: one row per service; a PORTS column (`*:8080->80/tcp`) when any service publishes one. */
export function servicesTable(res: wire.ListServicesResponseOut): string {
  const services = res.services.map((s) => ({ s, spec: specFromWire(s.service?.spec) }));
  const withPorts = services.some(({ spec }) => spec.ports.length > 0);
  const rows = services.map(({ s, spec }) => [
    shortId(s.service!.id),
    spec.name,
    `${s.running}/${s.desired}`,
    spec.image,
    ...(withPorts ? [portsColumn(spec.ports)] : []),
    spec.command.join(' '),
  ]);
  return table(['ID', 'NAME', 'REPLICAS', 'IMAGE', ...(withPorts ? ['PORTS'] : []), 'COMMAND'], rows);
}

/**
 * `service ps`: every task, newest first within a slot; the tasks a slot replaced are indented
 * under it (` \_ web.1`), with the reason they ended.
 */
export function tasksTable(tasks: readonly wire.TaskOut[], slots: readonly wire.SlotStatusOut[]): string {
  return table(TASK_HEADERS, taskRows(tasks, slots));
}

export const TASK_HEADERS = ['ID', 'NAME', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR'];

/** The rows of `service ps` for one service's tasks (`stack ps` puts several services' in one table). */
export function taskRows(tasks: readonly wire.TaskOut[], slots: readonly wire.SlotStatusOut[]): string[][] {
  let lastSlot = -1;
  return tasks.map((t) => {
    const first = t.slot !== lastSlot;
    const name = first ? `${t.serviceName}.${t.slot}` : ` \\_ ${t.serviceName}.${t.slot}`;
    lastSlot = t.slot;
    let error = t.error !== '' ? t.error : t.state === 'pending' || t.held ? t.message : '';
    if (first && t.desiredState === 'shutdown') error += nextAttempt(slots.find((s) => s.slot === t.slot));
    const running = t.desiredState === 'running' && t.state === 'running';
    // A task preparing says how far its image's pull is: `preparing (pulling 42% of 35.1 MB)`.
    const detail = t.state === 'preparing' && t.desiredState === 'running' ? ` (${t.message})` : '';
    const health = t.healthStatus !== 'none' && running ? ` (${t.healthStatus})` : detail;
    const current = `${t.state}${health} ${ago(t.updatedAtMs)}`;
    return [shortId(t.id), name, t.nodeName || '-', t.desiredState, current, error];
  });
}

/** ` (next attempt in 4s)` for a slot waiting out its backoff, ` (given up)` for one that stopped. */
export function nextAttempt(slot: wire.SlotStatusOut | undefined, now = Date.now()): string {
  if (!slot) return '';
  if (slot.gaveUp) return ` (given up after ${slot.failures} failures in a row)`;
  const wait = slot.nextAttemptAtMs - now;
  return wait > 0 ? ` (next attempt in ${(wait / 1000).toFixed(1)}s, failure ${slot.failures} in a row)` : '';
}

/** Under `service ps`: where to read the output of the newest task that failed its check. */
export function logsHint(tasks: readonly wire.TaskOut[]): string {
  const failed = tasks
    .filter((t) => t.state === 'failed' && /check failed/.test(`${t.message} ${t.error}`))
    .sort((a, b) => b.updatedAtMs - a.updatedAtMs)[0];
  if (!failed) return '';
  return `\nTask ${failed.id} (slot ${failed.slot}) failed its check; its output: warren service logs ${failed.id}\n`;
}
