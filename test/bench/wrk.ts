/**
 * Debian's `wrk` as the load generator of the ingress bench: runs, and the figures it reports,
 * read from a `done()` Lua hook that prints them as one JSON line (the text summary is for
 * people). Also the CPU time of a process from /proc, for a proxy's cost during a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What one wrk run counted. Latencies in ms. */
export interface WrkResult {
  requests: number;
  seconds: number;
  /**
   * wrk's socket errors. As observed here (wrk 4.1): a connection the other side refuses shows
   * as a `write` error (wrk connects without blocking and writes the request at once); one that
   * was accepted and then closed or reset without an answer shows as a `read` error.
   */
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** Responses with a status of 400 or more ("Non-2xx or 3xx responses"). */
  status: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Responses whose body starts with the script's marker (0 without one). */
  marked: number;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  /** A new connection for every request (`Connection: close`); keep-alive otherwise. */
  close?: boolean;
}

/**
 * The `done()` hook that prints the figures as JSON. With a marker, a `response()` hook also
 * counts the responses whose body starts with it (each thread counts; `done` adds them up):
 * that makes wrk run Lua for every response, so the throughput runs go without.
 */
function reportLua(marker: string | undefined): string {
  const counting = marker
    ? `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) marked = 0 end
function response(status, headers, body)
  if body ~= nil and string.sub(body, 1, ${marker.length}) == ${JSON.stringify(marker)} then marked = marked + 1 end
end
local function count()
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("marked") or 0) end
  return n
end
`
    : `
local function count() return 0 end
`;
  return `${counting}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk":1,"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%.0f,"p99Us":%.0f,"maxUs":%.0f,"marked":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, count()))
end
`;
}

/**
 * Writes a reporting script into `dir` and returns its path, for `runWrk`. With `marker`, the
 * result's `marked` counts the responses whose body starts with it.
 */
export async function wrkScript(dir: string, marker?: string): Promise<string> {
  const path = join(dir, marker ? 'report-marked.lua' : 'report.lua');
  await writeFile(path, reportLua(marker));
  return path;
}

/** The wrk processes running now, so that a failing bench can end them. */
const running = new Set<ChildProcess>();

/** Ends every wrk this module started that still runs. */
export function killWrks(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** One wrk run against `url`; rejects when wrk fails (it does when its first connect is refused). */
export function runWrk(url: string, script: string, o: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t',
    String(o.threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.seconds}s`,
    '--latency',
    '-s',
    script,
  ];
  if (o.close) args.push('-H', 'Connection: close');
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 30) * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`wrk could not be started (${e.message}): run bash scripts/setup --bench`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('{"wrk":'));
      if (code !== 0 || !line) {
        reject(new Error(`wrk ${args.join(' ')} exited ${code}: ${(err || out).trim().slice(0, 500)}`));
        return;
      }
      const r = JSON.parse(line) as Record<string, number>;
      resolve({
        requests: r.requests!,
        seconds: r.durationUs! / 1e6,
        connect: r.connect!,
        read: r.read!,
        write: r.write!,
        timeout: r.timeout!,
        status: r.status!,
        p50Ms: r.p50Us! / 1000,
        p99Ms: r.p99Us! / 1000,
        maxMs: r.maxUs! / 1000,
        marked: r.marked!,
      });
    });
  });
}

/** Several wrk results of one window, added up (latencies: the worst of them). */
export function sumWrk(results: readonly WrkResult[]): WrkResult {
  const sum = (k: keyof WrkResult): number => results.reduce((s, r) => s + r[k], 0);
  const max = (k: keyof WrkResult): number => Math.max(...results.map((r) => r[k]));
  return {
    requests: sum('requests'),
    seconds: max('seconds'),
    connect: sum('connect'),
    read: sum('read'),
    write: sum('write'),
    timeout: sum('timeout'),
    status: sum('status'),
    p50Ms: max('p50Ms'),
    p99Ms: max('p99Ms'),
    maxMs: max('maxMs'),
    marked: sum('marked'),
  };
}

export function requestsPerSecond(r: WrkResult): number {
  return r.requests / r.seconds;
}

/** Failed requests of a run: every socket error and every error response. */
export function failed(r: WrkResult): number {
  return r.connect + r.read + r.write + r.timeout + r.status;
}

/** CPU time (user + system) a process has used so far, in seconds (USER_HZ = 100). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after "(comm)": state is the first, utime the 12th and stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
