import type { Logger } from 'pino';
import {
  FailedPreconditionError,
  NotFoundError,
  canAdvance,
  probeRuns,
  type HealthSpec,
  type Task,
} from '@warren/core';
import type { Change, Store } from '../store/store.js';
import { GroupCommit } from './group-commit.js';

/** A worker's report on one of its tasks, checked for form (task-status.ts). */
export type StatusReport = Pick<Task, 'nodeId' | 'state' | 'message' | 'error' | 'exitCode'> &
  Pick<Task, 'containerId' | 'address' | 'ports'> & { taskId: string; imageCheck?: HealthSpec };

/**
 * Writes workers' task reports with group commit, as HealthIngest writes health: while one write
 * is under way, reports queue, and the next write takes all of them as one atomic batch. Each
 * report is judged on its own (against the task as the reports before it in the batch left it)
 * and answered once the batch is on disk; a refused one changes nothing and the others go on.
 * With 1,000 nodes starting tasks, a write per report left the manager waiting on fsync.
 */
export class TaskStatusIngest {
  readonly #commit = new GroupCommit<StatusReport, void>((reports) => this.#write(reports));

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  submit(report: StatusReport): Promise<void> {
    return this.#commit.submit(report);
  }

  #write(reports: StatusReport[]): Promise<Array<undefined | Error>> {
    return this.store.mutate((view) => {
      const tasks = new Map<string, { task: Task; reported: boolean }>();
      const events: Change[] = [];
      const outcomes = reports.map((report) => {
        try {
          const known = tasks.get(report.taskId);
          const decided = this.#decide(known?.task ?? view.task(report.taskId), report);
          if (decided) {
            // A task that took the image's check has a new spec: its worker hears of it.
            const reported = (known?.reported ?? true) && !decided.newSpec;
            tasks.set(decided.task.id, { task: decided.task, reported });
            events.push(...decided.events);
          }
          return undefined;
        } catch (err) {
          return err as Error;
        }
      });
      const puts = [...tasks.values()].map(({ task, reported }): Change => ({ kind: 'putTask', task, reported }));
      return { changes: [...puts, ...events], result: outcomes };
    });
  }

  /** What a report changes of its task, if anything; throws when it is refused. */
  #decide(
    task: Task | undefined,
    report: StatusReport,
  ): { task: Task; events: Change[]; newSpec?: boolean } | undefined {
    const { state } = report;
    if (!task) throw new NotFoundError('task', report.taskId);
    if (task.nodeId !== report.nodeId)
      throw new FailedPreconditionError(`task ${task.id} is not assigned to node ${report.nodeId}`);
    if (task.state === state) {
      // Progress within a state (`pulling 42% of 35.1 MB`): the message changes, nothing else.
      if (state !== 'preparing' || report.message === task.message) return undefined;
      return { task: { ...task, message: report.message, updatedAt: this.now() }, events: [] };
    }
    if (!canAdvance(task.state, state))
      throw new FailedPreconditionError(`task ${task.id} is ${task.state}; it cannot become ${state}`);
    const t = this.now();
    const { imageCheck } = report;
    const takesCheck = imageCheck && !task.spec.noHealthcheck && probeRuns(task.spec.health).length === 0;
    const updated: Task = {
      ...task,
      ...(takesCheck ? { spec: { ...task.spec, health: imageCheck } } : {}),
      state,
      message: report.message,
      error: report.error,
      containerId: report.containerId || task.containerId,
      address: report.address || task.address,
      ...(state === 'running' && report.ports ? { ports: report.ports } : {}),
      startedAt: state === 'running' ? t : task.startedAt,
      updatedAt: t,
    };
    if (report.exitCode !== undefined) updated.exitCode = report.exitCode;
    const at = { serviceId: task.serviceId, service: task.serviceName, taskId: task.id, slot: task.slot };
    const events: Change[] = [];
    if (state === 'running') {
      const reason = `running${updated.address ? ` at ${updated.address}` : ''}`;
      events.push({ kind: 'event', event: { ...at, nodeId: task.nodeId, type: 'task-running', reason } });
    }
    if ((state === 'failed' || state === 'rejected') && task.desiredState === 'running') {
      const data = report.exitCode !== undefined ? { data: { exitCode: report.exitCode } } : {};
      const reason = report.error || state;
      events.push({ kind: 'event', event: { ...at, nodeId: task.nodeId, type: 'task-failed', reason, ...data } });
    }
    const exitCode = report.exitCode;
    this.logger.debug(
      // pino leaves the fields that are undefined out.
      { service: task.serviceName, slot: task.slot, task: task.id, state, error: report.error || undefined, exitCode },
      'task state',
    );
    return { task: updated, events, newSpec: takesCheck === true };
  }
}
