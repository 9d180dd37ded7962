import type { Service } from '../spec.js';
import type { Task } from '../task.js';
import { isRolling, specsMatch, type UpdatePolicy, type UpdateState, type UpdateStatus } from '../update-policy.js';
import { groupBy, type PlanBuilder } from './plan-builder.js';
import { newTask } from './slots.js';
import { roomOnceStopped } from './placement.js';
import type { NodeView } from './types.js';
import { isGood, judgeTask } from './update-verdict.js';

/** States in which the rollout's new tasks are judged: rolling, or paused (nothing new starts then). */
const JUDGING: ReadonlySet<UpdateState> = new Set(['updating', 'paused', 'rollback_started', 'rollback_paused']);

/**
 * A service's rollout in one pass, as `service update` and `service rollback` left it: its new
 * tasks are judged by their health, the failure action runs when too many fail, outdated slots
 * roll over batch by batch (stop-first or start-first), and it completes when none is left.
 *
 * A task is current when it runs the service's spec (`specsMatch`). A new task of the rollout is
 * a current one created since the rollout started, in a slot none of whose tasks it judged yet:
 * each slot is judged once per rollout; its later replacements (restarts, health) are the slot's
 * ordinary business. A slot whose new task failed is not picked again by the same rollout.
 */
export class Rollout {
  #service: Service;
  #status: UpdateStatus | undefined;
  #changed = false;
  #judgedNow = 0;
  readonly #slotById: ReadonlyMap<string, number>;
  #judged = new Set<string>();
  #judgedSlots = new Set<number>();
  #failedSlots = new Set<number>();

  constructor(
    readonly b: PlanBuilder,
    stored: Service,
    /** The service's tasks, as the pass got them. */
    readonly tasks: readonly Task[],
    readonly nodesById: ReadonlyMap<string, NodeView>,
  ) {
    this.#service = stored;
    this.#status = stored.update && {
      ...stored.update,
      succeeded: [...stored.update.succeeded],
      failed: [...stored.update.failed],
    };
    this.#slotById = new Map(tasks.map((t) => [t.id, t.slot]));
    this.#index();
  }

  /** The service record for the rest of the pass (a rollback started here swaps its spec). */
  get service(): Service {
    return this.#service;
  }

  /** Judges the new tasks in flight and runs the failure action; call before anything else of the service. */
  judge(): Service {
    const status = this.#status;
    if (!status || !JUDGING.has(status.state)) return this.#service;
    const { b } = this;
    const { monitorMs } = this.#policy();
    const candidates = this.tasks
      .map((t) => b.current(t))
      .filter((t) => t.desiredState === 'running' && t.slot <= this.#service.spec.replicas && this.#isNew(t))
      .sort((x, y) => x.slot - y.slot || x.createdAt - y.createdAt);
    let firstFailure: { task: Task; reason: string } | undefined;
    for (const task of candidates) {
      const trusted = this.nodesById.get(task.nodeId)?.engineTrouble !== true;
      const verdict = judgeTask(task, b.healthOf(task), monitorMs, b.now, trusted);
      if (verdict.outcome === 'pending') {
        if (verdict.at !== undefined) b.wake(verdict.at);
        continue;
      }
      const at = { ...this.#base(), taskId: task.id, slot: task.slot, nodeId: task.nodeId };
      if (verdict.outcome === 'success') status.succeeded.push(task.id);
      else {
        status.failed.push(task.id);
        firstFailure ??= { task, reason: verdict.reason };
        if (verdict.stop) {
          const message = `failed the ${this.#word()}`;
          b.update(task, { state: 'failed', desiredState: 'shutdown', error: verdict.reason, message, held: false });
          b.event({ ...at, type: 'task-failed', reason: verdict.reason });
        }
      }
      this.#changed = true;
      this.#judgedNow++;
      const word = verdict.outcome === 'success' ? 'succeeded' : 'failed';
      b.event({
        ...at,
        type: 'update-progress',
        reason: `slot ${task.slot}: task ${task.id} ${word}: ${verdict.reason}`,
        data: { outcome: verdict.outcome, succeeded: status.succeeded.length, failed: status.failed.length },
      });
    }
    this.#index();
    if (firstFailure && isRolling(status)) this.#onFailure(status, firstFailure.task, firstFailure.reason);
    return this.#service;
  }

  /**
   * The task a slot counts on among its live tasks (newest first): the newest current one, else the
   * newest. The others stop, except an outdated task whose current successor has not taken over yet
   * (start-first: it has not been judged a success; or, not a new task of the rollout, it is not good).
   */
  settle(live: readonly Task[]): Task | undefined {
    const primary = live.find((t) => this.#isCurrent(t)) ?? live[0];
    if (!primary) return undefined;
    const current = this.#isCurrent(primary);
    const keptOld =
      this.#status && current && !this.#tookOver(primary) ? live.find((t) => !this.#isCurrent(t)) : undefined;
    for (const task of live) {
      if (task === primary || task === keptOld) continue;
      const why =
        current && !this.#isCurrent(task) ? `${this.#done()}: ${primary.id} took over` : 'duplicate task in slot';
      this.b.stop(task, why);
    }
    return primary;
  }

  /** Starts the next batch when the last one is done, or completes; writes the service if it changed. */
  advance(live: readonly Task[]): void {
    const status = this.#status;
    if (status && isRolling(status)) this.#roll(status, live);
    if (this.#changed) this.b.plan.services.push({ ...this.#service, ...(status ? { update: this.#status } : {}) });
  }

  #roll(status: UpdateStatus, live: readonly Task[]): void {
    const { b } = this;
    if (live.some((t) => this.#isNew(t))) return;
    if (this.#judgedNow > 0) this.#set({ batchDoneAt: b.now });
    const bySlot = groupBy(live, (t) => t.slot);
    const outdated: number[] = [];
    for (let slot = 1; slot <= this.#service.spec.replicas; slot++) {
      const here = bySlot.get(slot) ?? [];
      if (here.length > 0 && !here.some((t) => this.#isCurrent(t)) && !this.#failedSlots.has(slot))
        outdated.push(slot);
    }
    const policy = this.#policy();
    if (outdated.length > 0) {
      const due = status.batchDoneAt === 0 ? b.now : status.batchDoneAt + policy.delayMs;
      if (due > b.now) {
        b.wake(due);
        return;
      }
      const batch = outdated.slice(0, policy.parallelism || outdated.length);
      for (const slot of batch) this.#start(slot, bySlot.get(slot) ?? [], policy);
      const reason = `slot${batch.length === 1 ? '' : 's'} ${batch.join(', ')}: new tasks started (${policy.order})`;
      b.event({
        ...this.#base(),
        type: 'update-progress',
        reason,
        data: { slots: batch.join(','), left: outdated.length },
      });
      return;
    }
    const back = this.#back();
    const { succeeded, failed } = status;
    const counts =
      failed.length > 0 ? `; ${failed.length} of ${succeeded.length + failed.length} new tasks failed` : '';
    const why = back && status.message ? `${status.message}; ` : '';
    const message = back ? `${why}rollback completed${counts}` : `update completed${counts}`;
    this.#set({ state: back ? 'rollback_completed' : 'completed', completedAt: b.now, message });
    const data = { succeeded: succeeded.length, failed: failed.length };
    b.event({ ...this.#base(), type: back ? 'rollback-completed' : 'update-completed', reason: message, data });
  }

  /** Rolls a slot over: stop-first stops its old task now, start-first once the new one succeeded. */
  #start(slot: number, old: readonly Task[], policy: UpdatePolicy): void {
    const { b } = this;
    const task = newTask(this.#service, slot, b.input.newId(), b.now, false);
    // A successor that would find no room even once the old task stopped: the old one keeps
    // serving while the successor waits, and fails, for room (start-first for this slot).
    const stopFirst = policy.order === 'stop-first' && roomOnceStopped(b.input.nodes, this.#service.spec, old);
    if (stopFirst) {
      for (const t of old) b.stop(t, this.#back() ? 'rolled back to the previous spec' : 'updated to the new spec');
    }
    b.create(task);
    const ids = old.map((t) => t.id).join(', ');
    const reason = stopFirst ? `${this.#word()}: replaces ${ids}` : `${this.#word()}: successor of ${ids}`;
    b.event({ ...this.#base(), type: 'task-created', taskId: task.id, slot, reason });
  }

  /** Too many failures (over --*-max-failure-ratio of the slots updated so far): pause, roll back, or go on. */
  #onFailure(status: UpdateStatus, task: Task, reason: string): void {
    const { b } = this;
    const policy = this.#policy();
    const flag = this.#back() ? '--rollback' : '--update';
    const what = `task ${task.id} (slot ${task.slot}) failed: ${reason}`;
    if (status.failed.length / Math.max(1, this.#updatedSlots()) <= policy.maxFailureRatio) {
      this.#set({ message: `${what} (within ${flag}-max-failure-ratio ${policy.maxFailureRatio})` });
      return;
    }
    if (policy.failureAction === 'continue') {
      this.#set({ message: `${what}; continuing (${flag}-failure-action continue)` });
      return;
    }
    const previous = this.#service.previousSpec;
    if (policy.failureAction === 'rollback' && !this.#back() && previous) {
      const message = `update rolled back: ${what}`;
      const { spec } = this.#service;
      this.#service = { ...this.#service, spec: previous, previousSpec: spec, updatedAt: b.now };
      this.#status = {
        state: 'rollback_started',
        startedAt: b.now,
        completedAt: 0,
        message,
        succeeded: [],
        failed: [],
        batchDoneAt: 0,
      };
      this.#changed = true;
      this.#judgedNow = 0;
      this.#index();
      b.event({ ...this.#base(), type: 'rollback-started', reason: `back to ${previous.image}: ${what}` });
      return;
    }
    const cannot = policy.failureAction === 'rollback' ? ' (no previous spec to roll back to)' : '';
    const message = `${this.#word()} paused: ${what}${cannot}`;
    this.#set({ state: this.#back() ? 'rollback_paused' : 'paused', message });
    b.event({ ...this.#base(), type: this.#back() ? 'rollback-paused' : 'update-paused', reason: message });
  }

  /** Slots where the rollout started a task (of the current spec since it started), judged or not. */
  #updatedSlots(): number {
    const known = [...this.tasks.map((t) => this.b.current(t)), ...this.b.created(this.#service.id)];
    const since = this.#status?.startedAt ?? 0;
    return new Set(known.filter((t) => t.createdAt >= since && this.#isCurrent(t)).map((t) => t.slot)).size;
  }

  /** A new task of the rollout not judged yet (in flight). */
  #isNew(t: Task): boolean {
    const s = this.#status;
    return (
      s !== undefined &&
      JUDGING.has(s.state) &&
      t.createdAt >= s.startedAt &&
      !this.#judged.has(t.id) &&
      !this.#judgedSlots.has(t.slot) &&
      this.#isCurrent(t)
    );
  }

  #tookOver(t: Task): boolean {
    if (this.#status?.succeeded.includes(t.id)) return true;
    return !this.#isNew(t) && t.state === 'running' && isGood(this.b.healthOf(t));
  }

  #isCurrent(t: Task): boolean {
    return specsMatch(t.spec, this.#service.spec);
  }

  #index(): void {
    const s = this.#status;
    const slotsOf = (ids: readonly string[]): Set<number> =>
      new Set(ids.flatMap((id) => this.#slotById.get(id) ?? []));
    this.#judged = new Set([...(s?.succeeded ?? []), ...(s?.failed ?? [])]);
    this.#judgedSlots = slotsOf([...this.#judged]);
    this.#failedSlots = slotsOf(s?.failed ?? []);
  }

  #set(change: Partial<UpdateStatus>): void {
    Object.assign(this.#status!, change);
    this.#changed = true;
  }

  #back(): boolean {
    return this.#status?.state.startsWith('rollback') ?? false;
  }

  #policy(): UpdatePolicy {
    return this.#back() ? this.#service.spec.rollback : this.#service.spec.update;
  }

  #word(): 'update' | 'rollback' {
    return this.#back() ? 'rollback' : 'update';
  }

  #done(): string {
    return this.#back() ? 'rolled back' : 'updated';
  }

  #base(): { serviceId: string; service: string } {
    return { serviceId: this.#service.id, service: this.#service.spec.name };
  }
}
