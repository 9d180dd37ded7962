/**
 * A constant stream of HTTP requests for the ingress tests: `workers` loops, each sending one
 * GET after another to the targets in turn, half with a new connection per request and half
 * through a keep-alive agent. Every request is recorded: when it started and ended, and what
 * came back (the body: the replica's host name) or how it failed.
 */
import http from 'node:http';

export interface Outcome {
  startedAt: number;
  endedAt: number;
  target: string;
  keepAlive: boolean;
  ok: boolean;
  /** The body (the replica's host name) when ok. */
  body: string;
  /** ECONNREFUSED, ECONNRESET, … or `HTTP 503` when not ok. */
  error: string;
}

export class Load {
  readonly outcomes: Outcome[] = [];
  #running = false;
  #loops: Promise<void>[] = [];
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly targets: string[],
    private readonly workers = 8,
    private readonly timeoutMs = 5000,
  ) {}

  start(): this {
    this.#running = true;
    for (let i = 0; i < this.workers; i++) this.#loops.push(this.#loop(i));
    return this;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
    this.#agent.destroy();
  }

  /** Outcomes that started at or after `since` (epoch ms). */
  after(since: number): Outcome[] {
    return this.outcomes.filter((o) => o.startedAt >= since);
  }

  failures(since = 0): Outcome[] {
    return this.after(since).filter((o) => !o.ok);
  }

  /** Resolves once `n` more requests have ended (the load is flowing). */
  async flowing(n = 50, timeoutMs = 30_000): Promise<void> {
    const target = this.outcomes.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.outcomes.length < target) {
      if (Date.now() > deadline) throw new Error(`load: fewer than ${n} requests ended within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #loop(index: number): Promise<void> {
    const keepAlive = index % 2 === 1;
    let turn = index;
    while (this.#running) {
      const target = this.targets[turn++ % this.targets.length]!;
      this.outcomes.push(await this.#request(target, keepAlive));
    }
  }

  #request(target: string, keepAlive: boolean): Promise<Outcome> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const startedAt = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, body: string, error: string): void => {
        if (settled) return;
        settled = true;
        resolve({ startedAt, endedAt: Date.now(), target, keepAlive, ok, body, error });
      };
      const req = http.get(
        { host, port, path: '/', agent: keepAlive ? this.#agent : false, timeout: this.timeoutMs },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 200) done(true, body.trim(), '');
            else done(false, '', `HTTP ${status}`);
          });
          res.on('error', (err: NodeJS.ErrnoException) => done(false, '', err.code ?? err.message));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => done(false, '', err.code ?? err.message));
    });
  }
}
