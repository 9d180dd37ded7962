/**
 * The status page over the manager's HTTP port: `/` (every service and node), `/services/NAME`
 * (one service), their assets under `/ui/`, and the data behind them: `/api/v1/stream` (server-
 * sent events: `?overview=1&service=NAME…`, the views of a browser's open tabs; `since=SEQ` replays
 * events after SEQ), `/api/v1/overview` and `/api/v1/services/NAME` (the same views as JSON, once).
 *
 * Read-only, and for this host only: the control API admits only its owner's socket and client
 * certificates, and this page cannot check either, so it answers loopback clients only, and only
 * when they asked for a loopback host (a web page elsewhere cannot reach it by DNS rebinding).
 * It shows no environment values and no registry credentials. Assets are read once at start,
 * gzipped, and served with an ETag; the Content-Security-Policy lets the page load nothing but
 * this server's own files.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SERVICE_NAME_PATTERN } from '@warren/core';
import { overview, serviceDetail, type StatusSources } from './snapshots.js';
import { recentEvents, type StatusStream } from './stream.js';
import type { StoreView } from '../store/store.js';

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Where the browser finds the one library the page uses (preact with htm, in one ES module). */
const VENDOR_PATH = '/ui/vendor/htm-preact.js';
/** Services one stream may carry (a browser's tabs share one stream). */
const MAX_STREAM_VIEWS = 100;
const IMPORT_MAP = JSON.stringify({ imports: { 'htm/preact/standalone': VENDOR_PATH } });

export class StatusPages {
  private constructor(
    private readonly assets: Map<string, Asset>,
    private readonly csp: string,
    private readonly sources: StatusSources & { store: StoreView },
    private readonly stream: StatusStream,
  ) {}

  /** Reads the page's files (from @warren/status-page, built by `tsc -b`) into memory. */
  static async load(sources: StatusSources, stream: StatusStream): Promise<StatusPages> {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('@warren/status-page/package.json'));
    const vendor = join(dirname(createRequire(join(root, 'package.json')).resolve('htm')), '..', 'preact');
    const assets = new Map<string, Asset>();
    const add = (path: string, type: string, body: Buffer): void => {
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(path, { type, body, gzip: gzipSync(body, { level: 9 }), etag });
    };
    add('/ui/style.css', 'text/css; charset=utf-8', await readFile(join(root, 'static', 'style.css')));
    add(VENDOR_PATH, 'text/javascript; charset=utf-8', await readFile(join(vendor, 'standalone.module.js')));
    for (const file of await readdir(join(root, 'dist'))) {
      if (file.endsWith('.js'))
        add(`/ui/${file}`, 'text/javascript; charset=utf-8', await readFile(join(root, 'dist', file)));
    }
    // Every module is asked for at once, not import by import (a waterfall three deep).
    const preloads = [...assets.keys()]
      .filter((path) => path.endsWith('.js') && path !== '/ui/main.js' && path !== '/ui/stream-worker.js')
      .map((path) => `<link rel="modulepreload" href="${path}" />`)
      .join('\n    ');
    const html = (await readFile(join(root, 'static', 'index.html'), 'utf8'))
      .replace('{{IMPORT_MAP}}', IMPORT_MAP)
      .replace('{{MODULE_PRELOADS}}', preloads);
    add('/', 'text/html; charset=utf-8', Buffer.from(html));
    const mapHash = createHash('sha256').update(IMPORT_MAP).digest('base64');
    const csp = [
      "default-src 'none'",
      `script-src 'self' 'sha256-${mapHash}'`,
      "style-src 'self'",
      "connect-src 'self'",
      "worker-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
    return new StatusPages(assets, csp, sources, stream);
  }

  /** Serves `req` if it is the page's; false when the path is not (DaemonHttp answers 404). */
  handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const page = path === '/' || path.startsWith('/services/');
    if (!page && !path.startsWith('/ui/') && !path.startsWith('/api/v1/')) return false;
    const refused = refusal(req);
    if (refused) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${refused}\n`);
      return true;
    }
    const headers = {
      'content-security-policy': this.csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    if (path === '/api/v1/stream') {
      // `?overview=1&service=a&service=b`: the views a browser's tabs show; none named: the overview.
      const services = url.searchParams.getAll('service');
      const bad = services.find((name) => !SERVICE_NAME_PATTERN.test(name));
      if (bad !== undefined) return badName(res, bad);
      if (services.length > MAX_STREAM_VIEWS) {
        return json(res, 400, { error: `at most ${MAX_STREAM_VIEWS} services in one stream, not ${services.length}` });
      }
      const views = url.searchParams.get('overview') === '1' || services.length === 0 ? ['', ...services] : services;
      const since = Number(req.headers['last-event-id'] ?? url.searchParams.get('since') ?? 0);
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      this.stream.open(res, views, Number.isSafeInteger(since) && since > 0 ? since : 0);
      return true;
    }
    const events = (name: string) => ({ events: recentEvents(this.sources.store, name) });
    if (path === '/api/v1/overview') return view(req, res, { ...overview(this.sources), ...events('') });
    if (path.startsWith('/api/v1/services/')) {
      const name = decoded(path.slice('/api/v1/services/'.length));
      if (!SERVICE_NAME_PATTERN.test(name)) return badName(res, name);
      const service = this.sources.store.serviceByName(name);
      if (!service) return json(res, 404, { error: `no service ${name}` });
      return view(req, res, { ...serviceDetail(this.sources, service), ...events(name) });
    }
    const asset = this.assets.get(page ? '/' : path);
    if (!asset) return false;
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const common = { ...headers, etag: asset.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, common).end();
      return true;
    }
    res
      .writeHead(200, {
        ...common,
        'content-type': asset.type,
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      })
      .end(gzip ? asset.gzip : asset.body);
    return true;
  };
}

/** Why a request may not see the page: not from this host, or not addressed to a loopback name. */
function refusal(req: IncomingMessage): string | undefined {
  const from = req.socket.remoteAddress ?? '';
  if (!isLoopback(from)) {
    return (
      `the status page is served to this host only (you are ${from}): ` +
      'open it on the manager host, or through an SSH tunnel (ssh -L 7421:127.0.0.1:7421 HOST)'
    );
  }
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (host !== 'localhost' && !isLoopback(host)) {
    return `the status page answers only to a loopback host name (127.0.0.1 or localhost), not ${host || 'none'}`;
  }
  return undefined;
}

function isLoopback(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** `%2F`-style escapes undone; '' when they are malformed (refused as a name). */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '';
  }
}

/** A view as JSON, gzipped when the client takes it (the overview of 100 services is ~30 KB). */
function view(req: IncomingMessage, res: ServerResponse, body: unknown): true {
  const text = JSON.stringify(body);
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  res
    .writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    })
    .end(gzip ? gzipSync(text) : text);
  return true;
}

function json(res: ServerResponse, code: number, body: unknown): true {
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  return true;
}

function badName(res: ServerResponse, name: string): true {
  return json(res, 400, { error: `service name ${JSON.stringify(name.slice(0, 80))} is not a valid service name` });
}
