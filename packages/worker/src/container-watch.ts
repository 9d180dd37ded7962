import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Executor } from './executor.js';
import type { ContainerRuntime } from './runtime.js';

export interface ContainerWatchOptions {
  runtime: Pick<ContainerRuntime, 'events'>;
  executor: Pick<Executor, 'containerDied' | 'sync' | 'sweep'>;
  /** Only containers of this node are looked at. */
  nodeId: () => string;
  /** Whether the manager link is up; periodic sweeps are skipped while it is not. */
  connected: () => boolean;
  /** An image was pulled, tagged or removed on the engine. */
  onImageEvent: () => void;
  /** Full look at the node's containers, for events missed. */
  sweepIntervalMs: number;
  logger: Logger;
}

/** Pause before following the event stream again after it failed or ended. */
const EVENTS_RETRY_MS = 1000;

/**
 * Keeps the executor's view of the node's containers fresh: Docker events get a container that
 * died or vanished looked at at once, and a periodic sweep catches whatever the events missed.
 */
export class ContainerWatch {
  constructor(private readonly options: ContainerWatchOptions) {}

  /** Follows events and sweeps until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#followEvents(signal), this.#sweepPeriodically(signal)]);
  }

  /** Docker events: a container that died or vanished is looked at at once. */
  async #followEvents(signal: AbortSignal): Promise<void> {
    const { runtime, executor, logger } = this.options;
    while (!signal.aborted) {
      try {
        for await (const event of runtime.events(signal)) {
          if (event.kind === 'image') this.options.onImageEvent();
          else if (event.nodeId !== this.options.nodeId()) continue;
          else if (event.action === 'die') {
            void executor.containerDied(event.taskId, event.containerId, event.exitCode ?? -1);
          } else if (event.action === 'destroy') void executor.sync(event.taskId);
        }
      } catch (err) {
        if (signal.aborted) return;
        logger.warn({ reason: (err as Error).message }, 'Docker event stream failed');
      }
      await sleep(EVENTS_RETRY_MS, undefined, { signal }).catch(() => undefined);
      // Events may have been missed while the stream was down.
      if (!signal.aborted) await executor.sweep().catch((err: unknown) => logger.warn({ err }, 'sweep failed'));
    }
  }

  async #sweepPeriodically(signal: AbortSignal): Promise<void> {
    const { executor, logger } = this.options;
    while (!signal.aborted) {
      await sleep(this.options.sweepIntervalMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted || !this.options.connected()) continue;
      await executor.sweep().catch((err: unknown) => logger.warn({ reason: (err as Error).message }, 'sweep failed'));
    }
  }
}
