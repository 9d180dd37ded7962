import type { Logger } from 'pino';
import {
  RESULTS_KEPT,
  describeResult,
  probeRuns,
  specPhases,
  type EventDraft,
  type HealthSpec,
  type Phase,
  type PhaseRecord,
} from '@warren/core';
import { phaseFromWire, type wire } from '@warren/api';
import type { Change, Store } from '../store/store.js';
import { GroupCommit } from './group-commit.js';

/** Output kept per stored result: enough to say why, small enough to keep 10 of per phase. */
const OUTPUT_KEPT = 1024;
const MAX_RESULTS_PER_UPDATE = 100;

interface Queued {
  nodeId: string;
  receivedAt: number;
  batch: wire.HealthBatchOut;
}

/**
 * Takes workers' health batches and persists them with group commit: while one write is under
 * way, batches queue; the next write takes all of them as one atomic, fsynced LevelDB batch.
 * A batch is acknowledged only once it is on disk.
 *
 * Every transition becomes a `health-transition` event in the same write, which wakes the
 * reconciler: it decides whether an unhealthy task is replaced now or held by the budget.
 * Updates for unknown tasks, for another node's tasks, or with values Warren does not know are
 * refused and counted.
 */
export class HealthIngest {
  readonly #commit = new GroupCommit<Queued, number>((queued) => this.#write(queued));
  resultsIngested = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** Resolves with how many of the batch's updates were refused, once the rest is on disk. */
  submit(nodeId: string, batch: wire.HealthBatchOut): Promise<number> {
    return this.#commit.submit({ nodeId, batch, receivedAt: this.now() });
  }

  async #write(queued: Queued[]): Promise<number[]> {
    try {
      return await this.store.mutate((view) => {
        const events: EventDraft[] = [];
        const records = new Map<
          string,
          { taskId: string; phase: Phase; record: PhaseRecord; added: number; transition: boolean }
        >();
        const rejectedPerBatch = queued.map(({ nodeId, batch, receivedAt }) => {
          let rejected = 0;
          for (const update of batch.updates) {
            const task = view.task(update.taskId);
            const incoming = update.phase ? phaseFromWire(update.phase) : undefined;
            if (!task || task.nodeId !== nodeId || !incoming || !phasesOf(task.spec.health).includes(incoming.phase)) {
              rejected++;
              continue;
            }
            const key = `${task.id}/${incoming.phase}`;
            const pending = records.get(key);
            const known = pending?.record ?? view.health(task.id)[incoming.phase];
            const fresh = incoming.results
              .slice(-MAX_RESULTS_PER_UPDATE)
              .map((r) => ({ ...r, output: r.output.slice(0, OUTPUT_KEPT) }));
            this.resultsIngested += fresh.length;
            const { phase, ...state } = incoming;
            const record: PhaseRecord = {
              ...state,
              results: [...(known?.results ?? []), ...fresh].slice(-RESULTS_KEPT),
            };
            const transition = (pending?.transition ?? false) || update.transition;
            const added = (pending?.added ?? 0) + fresh.length;
            records.set(key, { taskId: task.id, phase, record, added, transition });
            if (update.transition) {
              const kind = probeRuns(task.spec.health).find((r) => r.phases.includes(phase))!.probe.handler.kind;
              const last = fresh.at(-1);
              const change = `${phase} ${record.lastTransitionFrom || 'starting'} → ${record.status}`;
              const reason = last ? `${change}: ${describeResult(kind, last)}` : change;
              this.logger.debug(
                {
                  service: task.serviceName,
                  slot: task.slot,
                  task: task.id,
                  phase,
                  from: record.lastTransitionFrom,
                  to: record.status,
                  at: record.lastTransitionAt,
                },
                'health transition',
              );
              events.push({
                type: 'health-transition',
                serviceId: task.serviceId,
                service: task.serviceName,
                taskId: task.id,
                slot: task.slot,
                nodeId: task.nodeId,
                reason,
                data: { phase, from: record.lastTransitionFrom, to: record.status, receivedAt },
              });
            }
          }
          return rejected;
        });
        const changes: Change[] = [
          // Runs without a transition may be coalesced by the backend (etcd); transitions never are.
          ...[...records.values()].map(({ taskId, phase, record, added, transition }): Change => ({
            kind: 'putHealth',
            taskId,
            phase,
            record,
            added,
            coalesce: !transition,
          })),
          ...events.map((event): Change => ({ kind: 'event', event })),
        ];
        return { changes, result: rejectedPerBatch };
      });
    } catch (err) {
      this.logger.error({ err }, 'writing health failed');
      throw err;
    }
  }
}

/** The phases of a spec, computed once per spec (tasks share their service's spec object). */
const phasesCache = new WeakMap<HealthSpec, Phase[]>();
function phasesOf(health: HealthSpec): Phase[] {
  let phases = phasesCache.get(health);
  if (!phases) phasesCache.set(health, (phases = specPhases(health)));
  return phases;
}
