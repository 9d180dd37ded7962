/**
 * The status page's live feed, over server-sent events: each stream carries one or more views
 * (the overview, services by name; a browser's tabs share one stream, since a browser opens at
 * most six HTTP/1.1 connections to a host): every view at once, then again whenever it changed,
 * at most every `tickMs`, and the events of those views as they happen. A view is built and
 * serialised once per tick for every stream showing it, so twenty open streams cost little more
 * than one; a stream whose reader is behind skips views (the next one replaces them) instead of
 * piling them up in the manager.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { WarrenEvent } from '@warren/core';
import { STREAM_EVENTS, type EventView } from '@warren/status-page';
import { eventView, overview, serviceDetail, type StatusSources } from './snapshots.js';
import type { Store } from '../store/store.js';

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

/** One stream (a browser's tabs share one). */
interface Page {
  res: ServerResponse;
  /** The views it carries: service names, '' for the overview. */
  views: Set<string>;
  /** Each view as last written, without its `now`, to send only what changed ('gone' for none). */
  lastViews: Map<string, string>;
  /** The last write did not fit in the socket's buffer: wait for 'drain'. */
  behind: boolean;
  events: EventView[];
}

/** The newest events of a view ('' the overview, else a service's name), oldest first. */
function newestOf(all: readonly WarrenEvent[], view: string): WarrenEvent[] {
  return all.filter((e) => view === '' || e.service === view).slice(-EVENTS_ON_OPEN);
}

/** What a page shows first: the newest events of its view, as the stream sends them when it opens. */
export function recentEvents(store: Pick<Store, 'events'>, view: string): EventView[] {
  return newestOf(store.events(), view).map(eventView);
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
   * Serves a stream of `views` (service names, '' for the overview) on `res` until the page
   * goes. `lastEventId` (`Last-Event-ID` on a reconnect) replays the events it missed; without
   * it, the newest events of each view.
   */
  open(res: ServerResponse, views: readonly string[], lastEventId: number): void {
    const page: Page = { res, views: new Set(views), lastViews: new Map(), behind: false, events: [] };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    const all = this.options.store.events();
    const replay =
      lastEventId > 0
        ? all.filter((e) => e.seq > lastEventId && concerns(page, e))
        : [...new Set([...page.views].flatMap((v) => newestOf(all, v)))].sort((a, b) => a.seq - b.seq);
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
      for (const e of events) if (concerns(page, e)) page.events.push(eventView(e));
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
      for (const key of page.views) {
        if (views.has(key)) continue;
        if (key === '') {
          const { now: _now, ...view } = overview(sources);
          views.set('', JSON.stringify(view));
        } else {
          const service = store.serviceByName(key);
          if (!service) views.set(key, null);
          else {
            const { now: _now, ...view } = serviceDetail(sources, service);
            views.set(key, JSON.stringify(view));
          }
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
    for (const key of page.views) {
      const view = views.get(key);
      // undefined: a page that opened during this tick; its views were built on their own.
      if (view === undefined || view === page.lastViews.get(key)) continue;
      if (view === null) {
        out += `event: ${STREAM_EVENTS.gone}\ndata: ${JSON.stringify(key)}\n\n`;
        page.lastViews.set(key, 'gone');
        continue;
      }
      const name = key === '' ? STREAM_EVENTS.overview : STREAM_EVENTS.service;
      out += `event: ${name}\ndata: {"now":${this.options.sources.now()},${view.slice(1)}\n\n`;
      page.lastViews.set(key, view);
    }
    if (out !== '' && !page.res.write(out)) page.behind = true;
  }
}

/** Whether a stream's views show event `e`: the overview shows them all. */
function concerns(page: Page, e: WarrenEvent): boolean {
  return page.views.has('') || page.views.has(e.service);
}
