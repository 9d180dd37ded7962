/**
 * A second backend image for the throughput figures, one that keeps connections open: busybox
 * httpd closes every connection after its response, so through it keep-alive is no different
 * from a connection per request. `warren-bench-nginx:latest` is Debian's nginx (package nginx:
 * /usr/sbin/nginx and the libraries `ldd` lists) with a minimal config, plus busybox `sh` and
 * Debian's `wrk` (/usr/bin/wrk, for a client inside a task: the names bench),
 * made FROM scratch with `docker import` the way scripts/setup makes warren-test. Built once,
 * again only when the nginx binary or the config changes (a label holds their digest).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { docker } from '../helpers/cluster.js';

const run = promisify(execFile);

export const NGINX_IMAGE = 'warren-bench-nginx:latest';
const NGINX = '/usr/sbin/nginx';
const WRK = '/usr/bin/wrk';
const LABEL = 'warren.bench.nginx';

/** Serves /www (index.html, ready, alive) on :80 with keep-alive, one worker process, no logs. */
const CONFIG = `user nobody nogroup;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/html;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 80;
    root /www;
  }
}
`;

/** The command that runs it in the foreground. */
export const NGINX_COMMAND = [NGINX, '-c', '/etc/nginx/nginx.conf', '-g', 'daemon off;'];

/**
 * Makes sure the image exists and is current. Resolves undefined when it is ready, or why it
 * cannot be made (no nginx on this machine: `bash scripts/setup --bench` installs nginx-light).
 */
export async function ensureNginxImage(): Promise<string | undefined> {
  const binaries: Buffer[] = [];
  for (const path of [NGINX, WRK]) {
    try {
      binaries.push(await readFile(path));
    } catch {
      return `${path} is missing (Debian's nginx and wrk: bash scripts/setup --bench)`;
    }
  }
  const hash = createHash('sha256');
  for (const b of binaries) hash.update(b);
  const digest = hash.update(CONFIG).digest('hex').slice(0, 16);
  const current = await docker
    .getImage(NGINX_IMAGE)
    .inspect()
    .then((i) => i.Config.Labels?.[LABEL])
    .catch(() => undefined);
  if (current === digest) return undefined;

  process.stderr.write(`bench: building ${NGINX_IMAGE} from scratch with ${NGINX}\n`);
  const root = await mkdtemp(join(tmpdir(), 'warren-bench-nginx-'));
  try {
    for (const d of ['bin', 'usr/sbin', 'etc/nginx', 'www', 'tmp', 'var/lib/nginx', 'var/log/nginx']) {
      await mkdir(join(root, d), { recursive: true });
    }
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile('/bin/busybox', join(root, 'bin/busybox'));
    await symlink('busybox', join(root, 'bin/sh'));
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    for (const binary of [NGINX, WRK]) {
      await copyFile(binary, join(root, binary));
      await chmod(join(root, binary), 0o755);
      // Every library it loads, and the loader, at the paths ldd names (symlinks followed).
      const { stdout } = await run('ldd', [binary]);
      for (const lib of stdout.match(/\/\S+/g) ?? []) {
        await mkdir(join(root, dirname(lib)), { recursive: true });
        await copyFile(lib, join(root, lib));
      }
    }
    await writeFile(
      join(root, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    );
    await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    await writeFile(join(root, 'etc/nginx/nginx.conf'), CONFIG);
    await writeFile(join(root, 'www/index.html'), 'warren bench nginx\n');
    await writeFile(join(root, 'www/ready'), 'ok\n');
    await writeFile(join(root, 'www/alive'), 'ok\n');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'bash',
        [
          '-c',
          'set -o pipefail; tar -C "$1" -c . | docker import --change "ENV PATH=/bin:/usr/sbin:/usr/bin" ' +
            `--change 'CMD ${JSON.stringify(NGINX_COMMAND)}' --change "LABEL ${LABEL}=$2" - "$3" >/dev/null`,
          'import',
          root,
          digest,
          NGINX_IMAGE,
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited ${code}`))));
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return undefined;
}
