/**
 * What a user does with a large cluster, for the scale bench: a rolling update of a 1,000-replica
 * service, and the status page opened on it (first render, and how soon it shows a change).
 */
import type { Browser, Page } from 'playwright-core';
import { unary, type wire } from '@warren/api';
import { waitFor } from '../helpers/cluster.js';
import type { SimFleet } from '../helpers/sim-fleet.js';
import { percentile } from './stats.js';

/** The rollout's batch size and monitor period. */
export const ROLLOUT = { parallelism: 50, monitorMs: 1000 };

export interface RolloutFigures {
  ms: number;
  batches: number;
  /** The rollout's time over its batches: each stops 50, starts 50, waits for them healthy, monitors 1 s. */
  perBatchMs: number;
}

/**
 * Rolls every task of `name` over (`--force`), parallelism 50, monitor 1 s, and waits for the
 * rollout to complete: every slot runs a task of the new spec, healthy.
 */
export async function rollout(control: wire.ControlServiceClient, name: string): Promise<RolloutFigures> {
  const inspect = () =>
    unary<{ name: string; brief: boolean }, wire.ServiceDetailOut>(
      control.InspectService,
      control,
      { name, brief: true },
      { timeoutMs: 60_000 },
    );
  const before = (await inspect()).service!;
  const spec = before.spec!;
  const update = { ...ROLLOUT, failureAction: 'pause', order: 'stop-first' };
  const t0 = performance.now();
  await unary(
    control.UpdateService,
    control,
    { name, spec: { ...spec, forceUpdate: (spec.forceUpdate ?? 0) + 1, update } },
    { timeoutMs: 60_000 },
  );
  await waitFor(
    `the rollout of ${name} completed`,
    async () => {
      const status = (await inspect()).service?.updateStatus;
      if (status && status.state !== 'updating' && status.state !== 'completed')
        throw new Error(`the rollout of ${name} ended ${status.state}: ${status.message}`);
      return status?.state === 'completed' && Number(status.startedAtMs) >= Number(before.updatedAtMs);
    },
    600_000,
    100,
  );
  const ms = performance.now() - t0;
  const batches = Math.ceil(spec.replicas / ROLLOUT.parallelism);
  return { ms, batches, perBatchMs: ms / batches };
}

export interface PageFigures {
  /** Navigation → the overview lists every service; → a service's page shows its 1,000 tasks. */
  overviewMs: number;
  serviceMs: number;
  /** The same with the checks paused (no results sent): the page's own cost, apart from the load. */
  quietOverviewMs: number;
  quietServiceMs: number;
  /** A task's liveness failed → the open service page shows it ended (the event stream), p50/max. */
  changeP50: number;
  changeMax: number;
}

const CHANGES = 5;

/** The status page with the cluster as it is: first renders (median of 3), then CHANGES changes seen live. */
export async function statusPage(
  browser: Browser,
  base: string,
  services: number,
  service: { name: string; id: string; replicas: number },
  fleet: SimFleet,
): Promise<PageFigures> {
  const render = async (path: string, ready: (page: Page) => Promise<unknown>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${base}${path}`);
        await ready(page);
        times.push(await page.evaluate(() => performance.now()));
      } finally {
        await context.close().catch(() => undefined);
      }
    }
    return percentile(times, 0.5);
  };
  const count = async (page: Page, selector: string, n: number): Promise<void> => {
    try {
      await page.waitForFunction(
        ([s, k]) => document.querySelectorAll(s as string).length === k,
        [selector, n] as const,
        {
          polling: 'raf',
          timeout: 120_000,
        },
      );
    } catch (err) {
      const found = await page.evaluate((s) => document.querySelectorAll(s).length, selector).catch(() => NaN);
      throw new Error(
        `${page.url()}: ${found} of ${n} ${selector} after 120 s (${(err as Error).message.split('\n')[0]})`,
      );
    }
  };
  // Live tasks (`id`: that one): cards, and rows past the first 50.
  const liveTask = (id = '') => {
    const which = id ? `[data-task="${id}"]` : '[data-task]';
    return `[data-testid="tasks"] ${which}, [data-testid="task-rows"] ${which}`;
  };
  const live = liveTask();
  const path = `/services/${service.name}`;
  /** The overview, then the service's page: each first render's median. */
  const firstRenders = async (): Promise<[number, number]> => [
    await render('/', (page) => count(page, 'tr[data-service]', services)),
    await render(path, (page) => count(page, live, service.replicas)),
  ];
  const [overviewMs, serviceMs] = await firstRenders();
  fleet.health.paused = true;
  let quiet: [number, number];
  try {
    await new Promise((r) => setTimeout(r, 2000)); // the last batches answered
    quiet = await firstRenders();
  } finally {
    fleet.health.paused = false;
  }
  const [quietOverviewMs, quietServiceMs] = quiet;

  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${base}${path}`);
    await count(page, live, service.replicas);
    const changes: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const t0 = performance.now();
      const { taskId: failed, replaced } = fleet.failOne(service.id);
      await replaced;
      await page
        .waitForFunction((selector) => !document.querySelector(selector), liveTask(failed), {
          polling: 'raf',
          timeout: 120_000,
        })
        .catch((err: Error) => {
          throw new Error(`the page still lists the failed task ${failed} as live: ${err.message.split('\n')[0]}`);
        });
      changes.push(performance.now() - t0);
    }
    return {
      overviewMs,
      serviceMs,
      quietOverviewMs,
      quietServiceMs,
      changeP50: percentile(changes, 0.5),
      changeMax: Math.max(...changes),
    };
  } finally {
    await context.close().catch(() => undefined);
  }
}
