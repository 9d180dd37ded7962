/**
 * Real registries for tests and benches: the CNCF distribution registry (Debian's
 * `docker-registry`, installed by scripts/setup) on 127.0.0.1, port 0, with a temp storage dir,
 * and optionally htpasswd auth and TLS. Its access log is kept, so a test can count the blobs
 * the engine fetched. Test images are built FROM scratch with busybox, unique per push, pushed,
 * and removed from the engine again, so a later pull really pulls.
 *
 * Docker treats 127.0.0.0/8 as an insecure registry: it tries HTTPS without verifying the
 * certificate, then plain HTTP. A TLS registry is still served over TLS only, so a pull from one
 * proves the engine spoke TLS; the CA is also put in /etc/docker/certs.d for engines told
 * otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomFill } from 'node:crypto';
import { rmdirSync, rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, runToEnd, waitFor } from './cluster.js';
import { startThrottledFront, type ThrottledFront } from './throttle.js';

export const CERTS_D = '/etc/docker/certs.d';
const MiB = 1024 * 1024;

export interface RegistryAuth {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Require this login (htpasswd, bcrypt). Default: anyone may push and pull. */
  auth?: RegistryAuth;
  /** Serve HTTPS only, with a certificate for IP 127.0.0.1 from a fresh CA. Default: plain HTTP. */
  tls?: boolean;
  /**
   * Send at most this many MiB/s per connection (a throttled front on its own port is the
   * registry's `host`), so a pull lasts long enough to watch on a fast machine. Default: no limit.
   */
  throttleMiBps?: number;
}

/** The engine's `X-Registry-Auth` for a registry (dockerode's `authconfig`). */
export interface AuthConfig extends RegistryAuth {
  serveraddress: string;
}

/** One line of the registry's access log. */
export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
  userAgent: string;
}

const BLOB_PATH = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/;
// Apache combined format: 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "docker/20.10.24 ..."
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

/** Registries still running; killed and removed if the test process exits without stop(). */
const live = new Set<Registry>();
/** Whether a registry here made /etc/docker/certs.d: the last one to stop removes it then. */
let madeCertsD = false;
process.on('exit', () => {
  for (const registry of live) registry.stopNow();
});

export class Registry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host = '';
  /** Every request the registry answered, in order (from its access log on stdout). */
  readonly requests: RegistryRequest[] = [];
  stderr = '';
  #stdout = '';
  #process!: ChildProcess;
  #certsDir = '';
  /** Where docker-registry itself listens: `host`, unless a throttled front is in between. */
  #backendHost = '';
  #front: ThrottledFront | undefined;

  private constructor(
    readonly dir: string,
    readonly auth: RegistryAuth | undefined,
    readonly tls: boolean,
    readonly throttleMiBps: number | undefined,
  ) {}

  /** Starts a registry and resolves once `GET /v2/` answers (200, or 401 with auth). */
  static async start(options: RegistryOptions = {}): Promise<Registry> {
    const registry = new Registry(
      await mkdtemp(join(tmpdir(), 'warren-registry-')),
      options.auth,
      options.tls ?? false,
      options.throttleMiBps,
    );
    live.add(registry);
    try {
      await registry.#start();
      return registry;
    } catch (err) {
      await registry.stop();
      throw err;
    }
  }

  /** The credentials dockerode's push and pull take (`authconfig`); undefined without auth. */
  get authconfig(): AuthConfig | undefined {
    return this.auth && { ...this.auth, serveraddress: this.host };
  }

  /** `HOST/REPO:TAG` on this registry. */
  ref(repo: string, tag = 'latest'): string {
    return `${this.host}/${repo}:${tag}`;
  }

  /**
   * Blob downloads served so far (`GET /v2/<repo>/blobs/sha256:…` answered 2xx or 307), of one
   * repository or all. A pull fetches the image config as a blob too: layers + 1 per pull.
   * The registry logs a request once it has sent the body, a moment after the engine may have
   * finished the pull: wait with waitForBlobGets before asserting a count.
   */
  blobGets(repo?: string): number {
    return this.requests.filter((r) => {
      const blob = r.method === 'GET' && BLOB_PATH.exec(r.path);
      return (
        blob && (repo === undefined || blob[1] === repo) && ((r.status >= 200 && r.status < 300) || r.status === 307)
      );
    }).length;
  }

  /** Waits until at least `n` blob downloads (of `repo`, or all) are logged; returns the count. */
  waitForBlobGets(n: number, options: { repo?: string; timeoutMs?: number } = {}): Promise<number> {
    return waitFor(
      `${n} blob GETs${options.repo ? ` of ${options.repo}` : ''} (seen ${this.blobGets(options.repo)})`,
      () => {
        const seen = this.blobGets(options.repo);
        return seen >= n && seen;
      },
      options.timeoutMs ?? 10_000,
      20,
    );
  }

  async #start(): Promise<void> {
    const config = [
      'version: 0.1',
      'log:',
      '  level: info',
      '  formatter: json',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      '  addr: 127.0.0.1:0',
      `  secret: ${randomBytes(16).toString('hex')}`,
    ];
    if (this.tls) {
      await this.#makeCertificates();
      config.push(
        '  tls:',
        `    certificate: ${join(this.dir, 'server.crt')}`,
        `    key: ${join(this.dir, 'server.key')}`,
      );
    }
    if (this.auth) {
      const hashed = await runToEnd('htpasswd', ['-Bbn', this.auth.username, this.auth.password]);
      if (hashed.code !== 0) throw new Error(`htpasswd failed: ${hashed.stderr}`);
      await writeFile(join(this.dir, 'htpasswd'), hashed.stdout.trim() + '\n');
      config.push('auth:', '  htpasswd:', '    realm: warren-test', `    path: ${join(this.dir, 'htpasswd')}`);
    }
    await writeFile(join(this.dir, 'config.yml'), config.join('\n') + '\n');
    await this.#serve('127.0.0.1:0');
  }

  /** Runs `docker-registry serve` on `addr` until `GET /v2/` answers as it should. */
  async #serve(addr: string): Promise<void> {
    const from = this.stderr.length;
    const proc = spawn('docker-registry', ['serve', join(this.dir, 'config.yml')], {
      env: { ...process.env, REGISTRY_HTTP_ADDR: addr },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#process = proc;
    const exited = new Promise<never>((_, reject) => {
      proc.on('error', reject);
      proc.on('exit', (code, signal) =>
        reject(new Error(`docker-registry exited (${code ?? signal}) while starting: ${this.stderr.slice(from)}`)),
      );
    });
    exited.catch(() => undefined);
    proc.stdout!.on('data', (chunk: Buffer) => this.#access(chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));

    // With port 0 the registry logs the address it got: {"msg":"listening on 127.0.0.1:41234, tls",…}
    const listening = waitFor(
      'docker-registry to listen',
      () => /"listening on (127\.0\.0\.1:\d+)(, tls)?"/.exec(this.stderr.slice(from))?.[1],
      10_000,
      20,
    );
    this.#backendHost = await Promise.race([listening, exited]);
    if (this.throttleMiBps !== undefined) {
      this.#front ??= await startThrottledFront(() => this.#backendHost, this.throttleMiBps * MiB);
      this.host = this.#front.host;
    } else this.host = this.#backendHost;
    if (this.tls && !this.#certsDir) await this.#trustCa();
    const ready = this.auth ? 401 : 200;
    await Promise.race([waitFor('GET /v2/ to answer', async () => (await this.#v2()) === ready, 10_000, 50), exited]);
  }

  /** Kills the registry process only: its port refuses connections until restart(). */
  async kill(): Promise<void> {
    const proc = this.#process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Serves again on the same address with the same storage (and CA, login, request log). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#serve(this.#backendHost);
  }

  #access(text: string): void {
    this.#stdout += text;
    let nl: number;
    while ((nl = this.#stdout.indexOf('\n')) >= 0) {
      const match = ACCESS_LINE.exec(this.#stdout.slice(0, nl));
      this.#stdout = this.#stdout.slice(nl + 1);
      if (match)
        this.requests.push({ method: match[1]!, path: match[2]!, status: Number(match[3]), userAgent: match[4]! });
    }
  }

  /** The status of `GET /v2/`, checking the certificate against this registry's CA. */
  async #v2(): Promise<number> {
    const ca = this.tls ? await readFile(join(this.dir, 'ca.crt')) : undefined;
    const send = this.tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(`${this.tls ? 'https' : 'http'}://${this.host}/v2/`, { ca, timeout: 2_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  /** A CA and a server certificate for IP 127.0.0.1 signed by it (EC P-256, valid 2 days). */
  async #makeCertificates(): Promise<void> {
    const at = (name: string): string => join(this.dir, name);
    const ext = at('server.ext');
    await writeFile(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    const openssl = async (command: string): Promise<void> => {
      const res = await runToEnd('openssl', command.split(' '));
      if (res.code !== 0) throw new Error(`openssl ${command} failed: ${res.stderr}`);
    };
    const newKey = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
    // The temp dir's path has no spaces: mkdtemp under tmpdir(), random letters and digits.
    await openssl(`req -x509 ${newKey} -days 2 -subj /CN=warren-test-CA -keyout ${at('ca.key')} -out ${at('ca.crt')}`);
    await openssl(`req -new ${newKey} -subj /CN=127.0.0.1 -keyout ${at('server.key')} -out ${at('server.csr')}`);
    await openssl(
      `x509 -req -in ${at('server.csr')} -CA ${at('ca.crt')} -CAkey ${at('ca.key')} -CAcreateserial -days 2 ` +
        `-extfile ${ext} -out ${at('server.crt')}`,
    );
  }

  /** /etc/docker/certs.d/HOST/ca.crt, read by the engine at each request (no restart). */
  async #trustCa(): Promise<void> {
    this.#certsDir = join(CERTS_D, this.host);
    const created = await mkdir(this.#certsDir, { recursive: true });
    if (created && created !== this.#certsDir) madeCertsD = true;
    await copyFile(join(this.dir, 'ca.crt'), join(this.#certsDir, 'ca.crt'));
  }

  /** Kills the registry and removes its storage, config, certificates and certs.d entry. */
  async stop(): Promise<void> {
    live.delete(this);
    await this.kill();
    await this.#front?.stop();
    if (this.#certsDir) await rm(this.#certsDir, { recursive: true, force: true });
    // Fails while another registry's CA is in it, as it should.
    if (madeCertsD)
      await rmdir(CERTS_D).then(
        () => (madeCertsD = false),
        () => undefined,
      );
    await rm(this.dir, { recursive: true, force: true });
  }

  /** stop() for process exit: synchronous, best effort. */
  stopNow(): void {
    live.delete(this);
    if (this.#process?.exitCode === null) this.#process.kill('SIGKILL');
    if (this.#certsDir) rmSync(this.#certsDir, { recursive: true, force: true });
    if (madeCertsD && live.size === 0) {
      try {
        rmdirSync(CERTS_D);
      } catch {
        // another registry's CA is in it
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TestImageOptions {
  /** Random data in the image, in MiB, spread evenly over `layers`. Default 0. */
  sizeMiB?: number;
  /** Layers of random data on top of the busybox layer. Default 1 with `sizeMiB`, else 0. */
  layers?: number;
  /** Written to /marker and /www/marker and the label warren.test.marker. Default: random. */
  marker?: string;
}

export interface PushedImage {
  /** `HOST/REPO:TAG`. */
  ref: string;
  /** The manifest digest, `sha256:…`: `HOST/REPO@DIGEST` pulls exactly this image. */
  digest: string;
  marker: string;
}

/**
 * Builds a new image FROM scratch — busybox with its applets, /www/index.html and /www/health
 * like warren-test, a unique /marker (so no layer is shared with any other image), then the
 * random-data layers — pushes it as `HOST/REPO:TAG` and removes it from the engine.
 */
export async function pushImage(
  registry: Registry,
  repo: string,
  tag: string,
  options: TestImageOptions = {},
): Promise<PushedImage> {
  const sizeMiB = options.sizeMiB ?? 0;
  const layers = options.layers ?? (sizeMiB > 0 ? 1 : 0);
  const marker = options.marker ?? randomBytes(8).toString('hex');
  const ref = registry.ref(repo, tag);
  const context = await mkdtemp(join(tmpdir(), 'warren-image-'));
  try {
    const root = join(context, 'root');
    for (const dir of ['bin', 'tmp', 'www', 'etc']) await mkdir(join(root, dir), { recursive: true });
    await copyFile('/bin/busybox', join(root, 'bin/busybox'));
    const applets = (await runToEnd('/bin/busybox', ['--list'])).stdout.split('\n').filter(Boolean);
    for (const applet of applets) if (applet !== 'busybox') await symlink('busybox', join(root, 'bin', applet));
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(join(root, 'www/index.html'), 'warren test image\n');
    await writeFile(join(root, 'www/health'), 'ok\n');
    await writeFile(join(root, 'www/marker'), marker + '\n');
    await writeFile(join(root, 'marker'), marker + '\n');
    const dockerfile = ['FROM scratch', 'COPY root/ /'];
    for (let i = 0; i < layers; i++) {
      await writeRandom(join(context, `data${i}`), Math.floor((sizeMiB * MiB) / layers));
      dockerfile.push(`COPY data${i} /data/${i}`);
    }
    dockerfile.push('ENV PATH=/bin', 'CMD ["sh"]', `LABEL warren.test.marker=${marker}`);
    await writeFile(join(context, 'Dockerfile'), dockerfile.join('\n') + '\n');
    await chmod(join(root, 'tmp'), 0o1777);
    // The classic builder: BuildKit would keep a build cache that removing the image leaves behind.
    const built = await runToEnd(
      'docker',
      ['build', '-q', '-t', ref, context],
      { DOCKER_BUILDKIT: '0' },
      60_000 + 1_000 * sizeMiB,
    );
    if (built.code !== 0) throw new Error(`docker build of ${ref} failed: ${built.stderr}`);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  try {
    // The engine refuses a push without X-Registry-Auth, even to a registry that needs no login.
    const stream = await docker.getImage(ref).push({ authconfig: registry.authconfig ?? {} });
    const events = await follow(stream);
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`push of ${ref} failed: ${failed.errorDetail?.message ?? failed.error}`);
    const digest = events.map((e) => e.aux?.Digest).find((d) => d?.startsWith('sha256:'));
    if (!digest) throw new Error(`push of ${ref} gave no digest: ${JSON.stringify(events.slice(-3))}`);
    return { ref, digest, marker };
  } finally {
    await removeLocal(ref);
  }
}

/** An engine pull that failed: the engine's own message, and the HTTP status if it refused at once. */
export class PullError extends Error {
  override readonly name = 'PullError';
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

/**
 * Pulls through the engine as a worker would (dockerode `pull` + `followProgress`) and resolves
 * with the manifest digest. The engine reports some failures as an HTTP error of the request
 * (PullError with statusCode) and others inside the progress stream (PullError without).
 */
export async function pullImage(ref: string, options: { authconfig?: AuthConfig } = {}): Promise<string> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(ref, options.authconfig ? { authconfig: options.authconfig } : {});
  } catch (err) {
    // docker-modem's message: "(HTTP code 404) unexpected - <the engine's message> "
    const e = err as { statusCode?: number; message: string };
    throw new PullError(/^\(HTTP code \d+\) .*? - ([\s\S]*?) ?$/.exec(e.message)?.[1] ?? e.message, e.statusCode);
  }
  const events = await follow(stream);
  const failed = events.find((e) => e.error);
  if (failed) throw new PullError(failed.errorDetail?.message ?? failed.error!);
  const digest = events.map((e) => /^Digest: (sha256:[0-9a-f]{64})$/.exec(e.status ?? '')?.[1]).find(Boolean);
  if (!digest) throw new PullError(`pull of ${ref} gave no digest: ${JSON.stringify(events.slice(-3))}`);
  return digest;
}

/**
 * Removes the engine's copy of an image pushed to or pulled from a test registry, with every
 * tag and digest reference; nothing if absent. Refuses an image also tagged outside 127.0.0.1
 * registries (warren-test:latest, say). Remove the containers using it first.
 */
export async function removeLocal(ref: string): Promise<void> {
  let info: { Id: string; RepoTags?: string[] | null };
  try {
    info = await docker.getImage(ref).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return;
    throw err;
  }
  const others = (info.RepoTags ?? []).filter((t) => !t.startsWith('127.0.0.1:'));
  if (others.length > 0) throw new Error(`not removing ${ref}: the image is also ${others.join(', ')}`);
  await docker
    .getImage(info.Id)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

interface ProgressEvent {
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Digest?: string };
}

function follow(stream: NodeJS.ReadableStream): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, events: ProgressEvent[]) =>
      err ? reject(err) : resolve(events),
    ),
  );
}

/** A file of `bytes` random bytes, written 1 MiB at a time. */
async function writeRandom(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(MiB);
    for (let left = bytes; left > 0; left -= MiB) {
      const part = chunk.subarray(0, Math.min(MiB, left));
      await new Promise<void>((resolve, reject) => randomFill(part, (err) => (err ? reject(err) : resolve())));
      await file.write(part);
    }
  } finally {
    await file.close();
  }
}
