/** The page's live data: one EventSource on `/api/v1/stream`, reconnecting by itself. */
import { useEffect, useState } from 'htm/preact/standalone';
import { STREAM_EVENTS, type EventView } from './model.js';

export interface Live<T> {
  /** The latest view; null before the first and when the service is gone. */
  view: T | null;
  /** The service asked for does not exist (any more). */
  gone: boolean;
  connected: boolean;
  /** Newest first. */
  events: EventView[];
  /** The manager's clock minus this browser's, from the latest view. */
  skew: number;
}

/** Events the page keeps in its list. */
const EVENTS_SHOWN = 200;

export function useStream<T extends { now: number }>(query: string): Live<T> {
  const [live, setLive] = useState<Live<T>>({ view: null, gone: false, connected: false, events: [], skew: 0 });
  useEffect(() => {
    const source = new EventSource(`/api/v1/stream${query}`);
    const onView = (e: MessageEvent<string>): void => {
      const view = JSON.parse(e.data) as T;
      setLive((s) => ({ ...s, view, gone: false, connected: true, skew: view.now - Date.now() }));
    };
    source.addEventListener(STREAM_EVENTS.overview, onView);
    source.addEventListener(STREAM_EVENTS.service, onView);
    source.addEventListener(STREAM_EVENTS.gone, () => setLive((s) => ({ ...s, view: null, gone: true })));
    source.addEventListener(STREAM_EVENTS.events, (e: MessageEvent<string>) => {
      const fresh = (JSON.parse(e.data) as EventView[]).reverse();
      setLive((s) => {
        const newest = s.events[0]?.seq ?? 0;
        return { ...s, events: [...fresh.filter((x) => x.seq > newest), ...s.events].slice(0, EVENTS_SHOWN) };
      });
    });
    source.onopen = () => setLive((s) => ({ ...s, connected: true }));
    source.onerror = () => setLive((s) => ({ ...s, connected: false }));
    return () => source.close();
  }, [query]);
  return live;
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
