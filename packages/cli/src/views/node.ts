/** The views of `node ls` and `node inspect`: a table, the fields in words, and JSON. */
import type { wire } from '@warren/api';
import { formatBytes, formatCpus, freeCapacity, type Capacity } from '@warren/core';
import { ago, fields, indent, shortId, table } from '../output.js';

export function nodeJson(n: wire.NodeOut) {
  return {
    id: n.id,
    name: n.name,
    hostname: n.hostname,
    /** Where other nodes' proxies reach its published tasks (`--advertise-addr`). */
    address: n.address,
    /** Where its proxy accepts connections for published ports (`--ingress-addr`). */
    ingressAddress: n.ingressAddress,
    status: n.status,
    availability: n.availability,
    engine: n.engineOk ? 'ok' : `unreachable: ${n.engineMessage}`,
    tasks: n.taskCount,
    /** Its engine's CPUs and memory (null: not known, it takes any reservation); reserved by its tasks; left. */
    capacity: n.capacity ? ({ ...n.capacity } as Capacity) : null,
    reserved: reserved(n),
    free: n.capacity ? freeCapacity(n.capacity, reserved(n)) : null,
    lastSeenAt: new Date(n.lastSeenAtMs).toISOString(),
    registeredAt: new Date(n.registeredAtMs).toISOString(),
    history: n.history.map((h) => ({ time: new Date(h.atMs).toISOString(), status: h.status, reason: h.reason })),
  };
}

/** `node ls`: one row per node. */
export function nodesTable(nodes: readonly wire.NodeOut[], now = Date.now()): string {
  const rows = nodes.map((n) => [
    shortId(n.id),
    n.name,
    statusWords(n),
    n.availability,
    String(n.taskCount),
    n.capacity ? `${cpus(free(n).nanoCpus)} of ${cpus(n.capacity.nanoCpus)}` : '-',
    n.capacity ? `${formatBytes(free(n).memoryBytes)} of ${formatBytes(n.capacity.memoryBytes)}` : '-',
    ago(n.lastSeenAtMs, now),
    n.address || '-',
    n.hostname,
  ]);
  const headers = [
    'ID',
    'NAME',
    'STATUS',
    'AVAILABILITY',
    'TASKS',
    'CPUS FREE',
    'MEMORY FREE',
    'LAST HEARTBEAT',
    'ADDRESS',
    'HOSTNAME',
  ];
  return table(headers, rows);
}

/** `node inspect`: the node in words, then the history of its status. */
export function nodeDetailText(n: wire.NodeOut, now = Date.now()): string {
  const lines: Array<[string, string]> = [
    ['ID', n.id],
    ['Name', n.name],
    ['Hostname', n.hostname],
    ['Address', n.address ? `${n.address} (other nodes' proxies reach its published tasks here)` : '-'],
    ['Ingress', n.ingressAddress ? `${n.ingressAddress} (its proxy accepts published ports here)` : '-'],
    ['Status', statusWords(n)],
    ['Availability', n.availability],
    ['Engine', engineWords(n)],
    ['Tasks', String(n.taskCount)],
    ...roomLines(n),
    ['Last heartbeat', `${new Date(n.lastSeenAtMs).toISOString()} (${ago(n.lastSeenAtMs, now)})`],
    ['Joined', new Date(n.registeredAtMs).toISOString()],
  ];
  const transitions = n.history.map((h) => [new Date(h.atMs).toISOString(), h.status, h.reason]);
  const history = transitions.length > 0 ? table(['TIME', 'STATUS', 'REASON'], transitions) : '(no transitions yet)';
  return `${fields(lines)}\n\nHistory:\n${indent(history)}\n`;
}

/** Capacity, reserved and free, in words; a node whose capacity is not known says so. */
function roomLines(n: wire.NodeOut): Array<[string, string]> {
  if (!n.capacity) return [['Capacity', 'not known (its worker did not tell): it takes any reservation']];
  const words = (c: Capacity): string => `${formatCpus(c.nanoCpus)}, ${formatBytes(c.memoryBytes)} memory`;
  return [
    ['Capacity', words(n.capacity)],
    ['Reserved', `${words(reserved(n))} (by its tasks' --reserve-*)`],
    ['Free', words(free(n))],
  ];
}

function reserved(n: wire.NodeOut): Capacity {
  return { nanoCpus: n.reserved?.nanoCpus ?? 0, memoryBytes: n.reserved?.memoryBytes ?? 0 };
}

function free(n: wire.NodeOut): Capacity {
  return freeCapacity(n.capacity!, reserved(n));
}

/** `1.5` CPUs, as a number. */
function cpus(nanoCpus: number): string {
  return String(Number((nanoCpus / 1e9).toFixed(2)));
}

/** `ready`, `down`, or `ready, engine unreachable`. */
function statusWords(n: wire.NodeOut): string {
  return n.status === 'ready' && !n.engineOk ? 'ready, engine unreachable' : n.status;
}

function engineWords(n: wire.NodeOut): string {
  if (n.engineOk) return 'the worker reaches its Docker engine';
  return `unreachable (${n.engineMessage}): no task here is replaced for health until it answers`;
}
