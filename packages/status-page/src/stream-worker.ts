/**
 * A SharedWorker that gives all of a browser's status-page tabs one event stream: a browser opens
 * at most six HTTP/1.1 connections to a host, so a seventh tab with its own stream would never
 * load. The worker holds one EventSource carrying the views every open tab shows, reopens it
 * when that set changes, and hands each tab its view and the events that concern it.
 */
import { STREAM_EVENTS, type EventView } from './model.js';

/** What a tab sends: the view it shows ('' for the overview, else a service's name), that it lives, that it goes. */
export type TabMessage = { type: 'open'; view: string } | { type: 'ping' } | { type: 'close' };
/** What a tab receives. */
export type WorkerMessage =
  | { type: 'view'; data: string }
  | { type: 'gone' }
  | { type: 'events'; events: EventView[] }
  | { type: 'connected'; value: boolean };

interface Tab {
  port: MessagePort;
  view: string;
  seenAt: number;
  /** The newest event it was given. */
  delivered: number;
}

/** Events kept for tabs that open later. */
const EVENTS_KEPT = 500;
/** A tab that has not pinged for this long is gone (closed without saying so). */
const TAB_SILENT_MS = 20_000;

const tabs = new Set<Tab>();
/** The latest view of each key: its JSON, or null for a service that is gone. */
const latest = new Map<string, string | null>();
let events: EventView[] = [];
let source: EventSource | undefined;
let query = '';
let connected = false;
let pending: ReturnType<typeof setTimeout> | undefined;

(self as unknown as { onconnect: (e: MessageEvent) => void }).onconnect = (e) => {
  const port = e.ports[0]!;
  const tab: Tab = { port, view: '', seenAt: Date.now(), delivered: 0 };
  port.onmessage = (m: MessageEvent<TabMessage>) => {
    tab.seenAt = Date.now();
    if (m.data.type === 'open') {
      tab.view = m.data.view;
      tab.delivered = 0;
      tabs.add(tab);
      post(tab, { type: 'connected', value: connected });
      const view = latest.get(tab.view);
      if (view !== undefined) post(tab, view === null ? { type: 'gone' } : { type: 'view', data: view });
      deliverEvents(tab);
      reopenSoon();
    } else if (m.data.type === 'close') {
      tabs.delete(tab);
      reopenSoon();
    }
  };
  port.start();
};

setInterval(() => {
  const before = tabs.size;
  for (const tab of tabs) if (Date.now() - tab.seenAt > TAB_SILENT_MS) tabs.delete(tab);
  if (tabs.size !== before) reopenSoon();
}, TAB_SILENT_MS / 2);

function post(tab: Tab, message: WorkerMessage): void {
  tab.port.postMessage(message);
}

/** Tabs often open or close together: the stream is reopened once they settled (the first opens at once). */
function reopenSoon(): void {
  clearTimeout(pending);
  if (!source) reopen();
  else pending = setTimeout(reopen, 50);
}

function reopen(): void {
  const views = [...new Set([...tabs].map((t) => t.view))].sort();
  const params = new URLSearchParams();
  if (views.includes('')) params.set('overview', '1');
  for (const v of views) if (v !== '') params.append('service', v);
  const next = params.toString();
  if (views.length === 0) {
    source?.close();
    source = undefined;
    query = '';
    return;
  }
  if (source && next === query) return;
  source?.close();
  query = next;
  for (const key of [...latest.keys()]) if (!views.includes(key)) latest.delete(key);
  const es = new EventSource(`/api/v1/stream?${next}`);
  source = es;
  const onView = (key: (data: string) => string) => (e: MessageEvent<string>) => {
    const view = key(e.data);
    latest.set(view, e.data);
    for (const tab of tabs) if (tab.view === view) post(tab, { type: 'view', data: e.data });
  };
  es.addEventListener(
    STREAM_EVENTS.overview,
    onView(() => ''),
  );
  es.addEventListener(
    STREAM_EVENTS.service,
    onView((data) => (JSON.parse(data) as { summary: { name: string } }).summary.name),
  );
  es.addEventListener(STREAM_EVENTS.gone, (e: MessageEvent<string>) => {
    const name = JSON.parse(e.data) as string;
    latest.set(name, null);
    for (const tab of tabs) if (tab.view === name) post(tab, { type: 'gone' });
  });
  es.addEventListener(STREAM_EVENTS.events, (e: MessageEvent<string>) => {
    const known = new Set(events.map((x) => x.seq));
    const fresh = (JSON.parse(e.data) as EventView[]).filter((x) => !known.has(x.seq));
    events = [...events, ...fresh].sort((a, b) => a.seq - b.seq).slice(-EVENTS_KEPT);
    for (const tab of tabs) deliverEvents(tab);
  });
  es.onopen = () => setConnected(true);
  es.onerror = () => setConnected(false);
}

function setConnected(value: boolean): void {
  connected = value;
  for (const tab of tabs) post(tab, { type: 'connected', value });
}

/** Gives `tab` the events of its view it does not have yet. */
function deliverEvents(tab: Tab): void {
  const due = events.filter((e) => e.seq > tab.delivered && (tab.view === '' || e.service === tab.view));
  if (due.length === 0) return;
  tab.delivered = due.at(-1)!.seq;
  post(tab, { type: 'events', events: due });
}
