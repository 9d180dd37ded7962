/**
 * The status page's live feed, over server-sent events: each page gets its view (the overview,
 * or one service) at once, then again whenever it changed, at most every `tickMs`, and the
 * events as they happen. A view is built and serialised once per tick for every page showing
 * it, so twenty open pages cost about what one does; a page that does not read fast enough
 * skips views (the next one replaces them) instead of piling them up in the manager.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { WarrenEvent } from '@warren/core';
import { STREAM_EVENTS, type EventView } from '@warren/status-page';
import { eventView, overview, serviceDetail, type StatusSources } from './status-snapshots.js';
import type { Store } from './store.js';

export interface StatusStreamOptions {
  sources: StatusSources;
  store: Pick<Store, 'onCommit' | 'events' | 'serviceByName'>;
  logger: Logger;
  /** Views go out at most this often; default 250 ms. */
  tickMs?: number;
  /** And at least this often while pages are open (node heartbeats are not store changes); default 1 s. */
  refreshMs?: number;
}

/** Events a page gets when it opens (the newest ones of its view). */
const EVENTS_ON_OPEN = 50;
/** Events kept for a page that is behind; older ones are dropped. */
const EVENTS_QUEUED = 500;

interface Page {
  res: ServerResponse;
  /** The service it shows; '' for the overview. */
  service: string;
  /** The view last written, without its `now`, to send only what changed. */
  lastView: string;
  /** The last write did not fit in the socket's buffer: wait for 'drain'. */
  behind: boolean;
  events: EventView[];
}

export class StatusStream {
  readonly #pages = new Set<Page>();
  readonly #tickMs: number;
  readonly #refreshMs: number;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #lastTick = 0;
  #dirty = true;
  readonly #unsubscribe: () => void;

  constructor(private readonly options: StatusStreamOptions) {
    this.#tickMs = options.tickMs ?? 250;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#unsubscribe = options.store.onCommit((_changes, events) => {
      this.#dirty = true;
      if (events.length > 0) this.#queueEvents(events);
      this.#schedule();
    });
  }

  /** Pages open now. */
  get pages(): number {
    return this.#pages.size;
  }

  /**
   * Serves one page's stream on `res` until the page goes. `lastEventId` (the browser's
   * `Last-Event-ID` on a reconnect) replays the events it missed.
   */
  open(res: ServerResponse, service: string, lastEventId: number): void {
    const page: Page = { res, service, lastView: '', behind: false, events: [] };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    const wanted = this.options.store.events().filter((e) => page.service === '' || e.service === page.service);
    const replay = lastEventId > 0 ? wanted.filter((e) => e.seq > lastEventId) : wanted.slice(-EVENTS_ON_OPEN);
    page.events = replay.slice(-EVENTS_QUEUED).map(eventView);
    this.#pages.add(page);
    res.on('drain', () => {
      page.behind = false;
      this.#send(page, this.#views([page]));
    });
    res.on('close', () => {
      this.#pages.delete(page);
      if (this.#pages.size === 0) this.#stopTimer();
    });
    this.#send(page, this.#views([page]));
    this.#schedule();
  }

  /** Ends every page's stream (they reconnect to whoever serves next) and stops listening to the store. */
  close(): void {
    this.#unsubscribe();
    this.#stopTimer();
    for (const page of this.#pages) page.res.end();
    this.#pages.clear();
  }

  #queueEvents(events: readonly WarrenEvent[]): void {
    for (const page of this.#pages) {
      for (const e of events) if (page.service === '' || e.service === page.service) page.events.push(eventView(e));
      if (page.events.length > EVENTS_QUEUED) page.events.splice(0, page.events.length - EVENTS_QUEUED);
    }
  }

  /** Sets the next tick: `tickMs` after the last one when something changed, else `refreshMs` from now. */
  #schedule(): void {
    if (this.#pages.size === 0) return;
    const now = performance.now();
    const due = this.#dirty ? this.#lastTick + this.#tickMs : now + this.#refreshMs;
    if (this.#timer && this.#timerDue <= due) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - now));
  }

  #stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#lastTick = performance.now();
    try {
      const views = this.#views();
      for (const page of this.#pages) this.#send(page, views);
    } catch (err) {
      this.options.logger.error({ err }, 'the status page view could not be built');
    }
    this.#dirty = false;
    this.#schedule();
  }

  /** Builds each view shown, once, serialised without its `now`; null for a service that does not exist. */
  #views(pages: Iterable<Page> = this.#pages): Map<string, string | null> {
    const views = new Map<string, string | null>();
    const { sources, store } = this.options;
    for (const page of pages) {
      if (views.has(page.service)) continue;
      if (page.service === '') {
        const { now: _now, ...view } = overview(sources);
        views.set('', JSON.stringify(view));
      } else {
        const service = store.serviceByName(page.service);
        if (!service) views.set(page.service, null);
        else {
          const { now: _now, ...view } = serviceDetail(sources, service);
          views.set(page.service, JSON.stringify(view));
        }
      }
    }
    return views;
  }

  #send(page: Page, views: Map<string, string | null>): void {
    if (page.behind || page.res.writableEnded) return;
    let out = '';
    if (page.events.length > 0) {
      const last = page.events.at(-1)!;
      out += `id: ${last.seq}\nevent: ${STREAM_EVENTS.events}\ndata: ${JSON.stringify(page.events)}\n\n`;
      page.events = [];
    }
    const view = views.get(page.service);
    if (view === undefined) {
      // A page that opened during this tick: its view is built on its own.
    } else if (view === null) {
      if (page.lastView !== 'gone') out += `event: ${STREAM_EVENTS.gone}\ndata: ${JSON.stringify(page.service)}\n\n`;
      page.lastView = 'gone';
    } else if (view !== page.lastView) {
      const name = page.service === '' ? STREAM_EVENTS.overview : STREAM_EVENTS.service;
      out += `event: ${name}\ndata: {"now":${this.options.sources.now()},${view.slice(1)}\n\n`;
      page.lastView = view;
    }
    if (out !== '' && !page.res.write(out)) page.behind = true;
  }
}
