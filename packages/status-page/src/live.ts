/**
 * The page's live data. Tabs share one stream through a SharedWorker (stream-worker.ts); where
 * there is none, the tab opens its own EventSource. Both reconnect by themselves.
 */
import { useEffect, useState } from 'htm/preact/standalone';
import { STREAM_EVENTS, type EventView } from './model.js';
import type { TabMessage, WorkerMessage } from './stream-worker.js';

/** `connecting` until the stream first opens; `reconnecting` once it was live and dropped. */
export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface Live<T> {
  /** The latest view; null before the first and when the service is gone. */
  view: T | null;
  /** The service asked for does not exist (any more). */
  gone: boolean;
  connection: Connection;
  /** Newest first. */
  events: EventView[];
  /** The manager's clock minus this browser's, from the latest view. */
  skew: number;
}

/** Events the page keeps in its list. */
const EVENTS_SHOWN = 200;
/** How often a tab tells the shared worker it is still there. */
const PING_MS = 5000;

/** The live data of `view`: '' for the overview, else a service's name. */
export function useStream<T extends { now: number; events?: EventView[] }>(view: string): Live<T> {
  const [live, setLive] = useState<Live<T>>({
    view: null,
    gone: false,
    connection: 'connecting',
    events: [],
    skew: 0,
  });
  useEffect(() => {
    const views = new ViewPacer<T>((next) =>
      setLive((s) => ({ ...s, view: next, gone: false, connection: 'live', skew: next.now - Date.now() })),
    );
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === 'view') views.offer(m.data);
      else if (m.type === 'gone') {
        views.drop();
        setLive((s) => ({ ...s, view: null, gone: true }));
      } else if (m.type === 'connected') {
        setLive((s) => ({
          ...s,
          connection: m.value ? 'live' : s.connection === 'connecting' ? 'connecting' : 'reconnecting',
        }));
      } else {
        const fresh = [...m.events].reverse();
        setLive((s) => {
          const newest = s.events[0]?.seq ?? 0;
          return { ...s, events: [...fresh.filter((x) => x.seq > newest), ...s.events].slice(0, EVENTS_SHOWN) };
        });
      }
    };
    // The first view comes sooner by a plain request than through a worker that is still starting.
    const aborted = new AbortController();
    void fetch(view === '' ? '/api/v1/overview' : `/api/v1/services/${encodeURIComponent(view)}`, {
      signal: aborted.signal,
    })
      .then(async (res) => (res.ok ? ((await res.json()) as T) : null))
      .then((first) => {
        if (!first) return;
        // Its recent events too, so that the first render shows them (the stream's come later).
        const { events = [], ...rest } = first;
        setLive((s) => ({
          ...s,
          ...(s.view || s.gone ? {} : { view: rest as T, skew: first.now - Date.now() }),
          events: s.events.length > 0 ? s.events : [...events].reverse().slice(0, EVENTS_SHOWN),
        }));
      })
      .catch(() => undefined);
    const stop = typeof SharedWorker === 'function' ? viaWorker(view, onMessage) : direct(view, onMessage);
    return () => {
      aborted.abort();
      views.drop();
      stop();
    };
  }, [view]);
  return live;
}

/** Views are shown at least this far apart. */
const MIN_GAP_MS = 250;

/**
 * Shows the newest of the views that arrive, no more often than the page can draw them: a view
 * that comes while the last one is still being drawn, or sooner than twice the time the last one
 * took to parse and draw, waits, and a newer one replaces it. A service of a thousand tasks takes
 * hundreds of milliseconds to draw; without this its views would queue up in the tab faster than
 * they are drawn, and the tab would freeze and run out of memory.
 */
class ViewPacer<T> {
  #pending: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextAt = 0;

  constructor(private readonly show: (view: T) => void) {}

  offer(data: string): void {
    this.#pending = data;
    this.#timer ??= setTimeout(() => this.#apply(), Math.max(0, this.#nextAt - performance.now()));
  }

  drop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #apply(): void {
    const data = this.#pending;
    this.#pending = undefined;
    if (data === undefined) return;
    const started = performance.now();
    this.show(JSON.parse(data) as T);
    // Preact draws before the next task: the timer below fires once the view is on the page.
    this.#timer = setTimeout(() => {
      const cost = performance.now() - started;
      this.#nextAt = started + Math.max(MIN_GAP_MS, 2 * cost);
      this.#timer = undefined;
      if (this.#pending !== undefined) this.offer(this.#pending);
    }, 0);
  }
}

function viaWorker(view: string, onMessage: (m: WorkerMessage) => void): () => void {
  const worker = new SharedWorker('/ui/stream-worker.js', { type: 'module', name: 'warren-status' });
  const port = worker.port;
  const send = (m: TabMessage): void => port.postMessage(m);
  port.onmessage = (e: MessageEvent<WorkerMessage>) => onMessage(e.data);
  port.start();
  send({ type: 'open', view });
  const ping = setInterval(() => send({ type: 'ping' }), PING_MS);
  const hide = (): void => send({ type: 'close' });
  // A page restored from the back-forward cache opens its view again.
  const show = (e: PageTransitionEvent): void => {
    if (e.persisted) send({ type: 'open', view });
  };
  addEventListener('pagehide', hide);
  addEventListener('pageshow', show);
  return () => {
    clearInterval(ping);
    removeEventListener('pagehide', hide);
    removeEventListener('pageshow', show);
    hide();
    port.close();
  };
}

function direct(view: string, onMessage: (m: WorkerMessage) => void): () => void {
  const source = new EventSource(`/api/v1/stream${view === '' ? '' : `?service=${encodeURIComponent(view)}`}`);
  const onView = (e: MessageEvent<string>): void => onMessage({ type: 'view', data: e.data });
  source.addEventListener(STREAM_EVENTS.overview, onView);
  source.addEventListener(STREAM_EVENTS.service, onView);
  source.addEventListener(STREAM_EVENTS.gone, () => onMessage({ type: 'gone' }));
  source.addEventListener(STREAM_EVENTS.events, (e: MessageEvent<string>) =>
    onMessage({ type: 'events', events: JSON.parse(e.data) as EventView[] }),
  );
  source.onopen = () => onMessage({ type: 'connected', value: true });
  source.onerror = () => onMessage({ type: 'connected', value: false });
  return () => source.close();
}

/** The manager's time now, redrawn every second (for `3s ago`). */
export function useNow(skew: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now + skew;
}
