/**
 * A fleet of simulated workers in one process, for scale (issue 22): each node joins with the
 * real token and a CSR, then speaks the real worker protocol over its own mutual-TLS connection —
 * heartbeats at the interval the manager asks for, the assignment stream, and task states forward
 * (`running` `startMs` after a task is assigned, `shutdown` once it is asked to stop). Containers
 * are not real: a task "runs" once reported. Hundreds of nodes fit in a process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { wire } from '@warren/api';
import { isTerminal, type TaskState } from '@warren/core';
import { pino } from 'pino';
import { StatusReporter } from '@warren/worker';
import { SimHealth, type HealthRecord } from './sim-health.js';
import { joinSimulated } from './sim-worker.js';

export interface SimFleetOptions {
  address: string;
  token: string;
  caPem: string;
  nodes: number;
  /** Node names are `<prefix>-<i>`. */
  prefix?: string;
  /** Time from a task's assignment to its report of `running`. Default 0. */
  startMs?: number;
  /** Joins at once, at most. Default 50. */
  joining?: number;
  /** The images every node says it has. */
  images?: string[];
  /** Each node sends a healthy liveness result for each task it runs this often (sim-health.ts). */
  checkEveryMs?: number;
}

interface SimNode {
  name: string;
  nodeId: string;
  client: wire.WorkerServiceClient;
  /** Task ids this node runs (reported running), and those asked to run and not yet reported. */
  running: Set<string>;
  starting: Set<string>;
  /** The worker's own reporter: pending reports go in one call, each answered. */
  reporter: StatusReporter;
  abort: AbortController;
  health?: SimHealth;
  stream?: { cancel(): void };
  beats?: { cancel(): void };
  beat?: NodeJS.Timeout;
}

export class SimFleet {
  readonly nodes: SimNode[] = [];
  /** Status reports the manager refused (a bug in the simulator or the manager), by its words. */
  readonly refusals = new Map<string, number>();
  #stopped = false;
  /** The nodes' health streams: acks and their times. */
  readonly health: HealthRecord = { measuring: false, latencies: [], results: 0, skipped: 0 };
  /** Slots whose task was failed by `fail`, waiting for their replacement's assignment. */
  /** Slots `fail` failed a task of. */
  readonly #failedSlots = new Set<string>();
  /** Each task's `service/slot`, as its assignment said. */
  readonly #slots = new Map<string, string>();
  readonly #replacing = new Map<string, { failed: string; resolve: () => void }>();
  /** Takes the reporters' warnings: each refusal is counted by its words. */
  readonly #logger = pino(
    { level: 'warn' },
    {
      write: (line: string): void => {
        const entry = JSON.parse(line) as { state?: string; reason?: string };
        const why = `${entry.state}: ${String(entry.reason).replace(/[0-9a-f]{12}/g, '<id>')}`;
        this.refusals.set(why, (this.refusals.get(why) ?? 0) + 1);
      },
    },
  );

  private constructor(private readonly options: SimFleetOptions) {}

  static async start(options: SimFleetOptions): Promise<SimFleet> {
    const fleet = new SimFleet(options);
    const prefix = options.prefix ?? 'sim';
    const names = Array.from({ length: options.nodes }, (_, i) => `${prefix}-${i + 1}`);
    const parallel = options.joining ?? 50;
    for (let i = 0; i < names.length; i += parallel) {
      await Promise.all(names.slice(i, i + parallel).map((name) => fleet.#join(name)));
    }
    return fleet;
  }

  /** Tasks running across the fleet (their reports may still be on the way). */
  get running(): number {
    return this.nodes.reduce((n, node) => n + node.running.size, 0);
  }

  /**
   * One running task's liveness turns unhealthy (its node sends the transition): resolves with the
   * ms until the manager assigned a replacement in its slot (to any node).
   */
  fail(timeoutMs = 30_000): Promise<number> {
    return this.failOne(undefined, timeoutMs).replaced;
  }

  /**
   * As `fail`, of a task of the service `serviceId` when given: the task failed, and a promise of
   * the ms until its replacement was assigned.
   */
  failOne(serviceId?: string, timeoutMs = 30_000): { taskId: string; replaced: Promise<number> } {
    // A slot not failed before, on a node picked at random: no backoff of an earlier failure counts.
    const fresh = (id: string) => {
      const slot = this.#slots.get(id)!;
      return !this.#failedSlots.has(slot) && (serviceId === undefined || slot.startsWith(`${serviceId}/`));
    };
    const candidates = this.nodes.flatMap((node) =>
      node.health ? [...node.running].filter(fresh).map((id) => ({ node, id })) : [],
    );
    const picked = candidates[Math.floor(Math.random() * candidates.length)];
    if (!picked) throw new Error('no task with checks left to fail');
    const { node, id: taskId } = picked;
    const slot = this.#slots.get(taskId)!;
    this.#failedSlots.add(slot);
    const t0 = performance.now();
    const replaced = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replacing.delete(slot);
        reject(new Error(`no replacement for ${slot} assigned within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#replacing.set(slot, {
        failed: taskId,
        resolve: () => {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        },
      });
      node.health!.fail(taskId);
    });
    return { taskId, replaced };
  }

  /** Reports the manager has not taken yet: 0 when every state is confirmed. */
  get backlog(): number {
    return this.nodes.reduce((n, node) => n + node.reporter.backlog, 0);
  }

  /**
   * The first `count` nodes go away at once, as machines that lose power: no more heartbeats,
   * their streams cut, their tasks gone with them. Returns the tasks they ran.
   */
  lose(count: number): number {
    let lost = 0;
    for (const node of this.nodes.splice(0, count)) {
      lost += node.running.size;
      clearInterval(node.beat);
      node.stream?.cancel();
      node.beats?.cancel();
      node.abort.abort();
      node.client.close();
    }
    return lost;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const node of this.nodes) {
      node.abort.abort();
      node.health?.stop();
      clearInterval(node.beat);
      node.stream?.cancel();
      node.beats?.cancel();
      node.client.close();
    }
  }

  async #join(name: string): Promise<void> {
    const { address, token, caPem } = this.options;
    const { client, nodeId } = await joinSimulated(address, token, caPem, { name, images: this.options.images ?? [] });
    const abort = new AbortController();
    const reporter = new StatusReporter(client, () => nodeId, this.#logger, abort.signal);
    const node: SimNode = { name, nodeId, client, running: new Set(), starting: new Set(), reporter, abort };
    this.nodes.push(node);
    // Heartbeats on one stream, as a worker sends them; the interval comes with the first answer.
    const beats = client.Heartbeats();
    node.beats = beats;
    beats.on('error', () => undefined);
    const first = await new Promise<wire.HeartbeatResponseOut>((resolve, reject) => {
      beats.once('data', resolve);
      beats.once('error', reject);
      beats.write({ nodeId });
    });
    beats.on('data', () => undefined);
    node.beat = setInterval(() => beats.write({ nodeId }), Number(first.heartbeatIntervalMs) || 1000);
    const every = this.options.checkEveryMs;
    if (every) node.health = new SimHealth(client, nodeId, () => node.running, every, this.health);
    this.#follow(node);
  }

  #follow(node: SimNode): void {
    const stream = node.client.Assignments({ nodeId: node.nodeId });
    node.stream = stream;
    stream.on('data', (m: wire.AssignmentsMessageOut) => {
      const listed = new Set<string>();
      for (const t of m.tasks) {
        listed.add(t.id);
        const slot = `${t.serviceId}/${t.slot}`;
        this.#slots.set(t.id, slot);
        const waiting = this.#replacing.get(slot);
        if (waiting && waiting.failed !== t.id && t.state === 'assigned') {
          this.#replacing.delete(slot);
          waiting.resolve();
        }
        if (t.desiredState === 'running' && t.state === 'assigned' && !node.starting.has(t.id)) {
          node.starting.add(t.id);
          void this.#start(node, t.id);
        } else if (t.desiredState === 'shutdown' && node.running.has(t.id)) {
          node.running.delete(t.id);
          // A task the manager already ended (its service removed: orphaned) is not reported on.
          if (!isTerminal(t.state as TaskState)) this.#report(node, t.id, 'shutdown');
        }
      }
      for (const id of m.removedTaskIds) {
        node.running.delete(id);
        this.#slots.delete(id);
      }
      if (m.full) for (const id of node.running) if (!listed.has(id)) node.running.delete(id);
    });
    stream.on('error', () => undefined);
  }

  async #start(node: SimNode, taskId: string): Promise<void> {
    if (this.options.startMs) await sleep(this.options.startMs);
    node.starting.delete(taskId);
    if (this.#stopped) return;
    node.running.add(taskId);
    node.reporter.report({ taskId, state: 'running', message: 'running' });
  }

  #report(node: SimNode, taskId: string, state: TaskState): void {
    if (!this.#stopped) node.reporter.report({ taskId, state, message: state });
  }
}
