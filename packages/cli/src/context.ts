import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { managerAddress } from './manager-address.js';
import type { Command } from 'commander';
import {
  createControlClient,
  isNoLeader,
  unary,
  type CallOptions,
  type UnaryMethod,
  type wire,
} from '@warren/api/client';
import { CliError } from './errors.js';
import { TLS_FILES } from './tls-files.js';
import { cliErrorFrom } from './rpc-errors.js';

export { DEFAULT_CONTROL_SOCKET, managerAddress } from './manager-address.js';

/**
 * A ControlService client: over the local socket, or over TLS with the certificate of --tls-dir
 * (the TLS code is loaded only then). `--manager a,b,c` names several managers: the first.
 */
export async function controlClient(
  command: Command,
  address = managerAddresses(command)[0]!,
): Promise<{ address: string; client: wire.ControlServiceClient }> {
  if (address.startsWith('unix:')) return { address, client: createControlClient(address) };
  const dir = command.optsWithGlobals<{ tlsDir?: string }>().tlsDir ?? process.env.WARREN_TLS_DIR;
  if (!dir) {
    throw new CliError(
      `${address} is the manager's TLS port: the CLI needs a client certificate there ` +
        '(--tls-dir DIR or WARREN_TLS_DIR; make one with warren cert issue --out DIR on the manager host)',
      2,
    );
  }
  const { CertificateSource, TLS_CHANNEL_OPTIONS, channelCredentials } = await import('@warren/api/tls');
  let source: InstanceType<typeof CertificateSource>;
  try {
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    source = new CertificateSource(read(TLS_FILES.ca), read(TLS_FILES.cert), read(TLS_FILES.key));
  } catch (err) {
    throw new CliError(`--tls-dir ${dir}: ${(err as Error).message}`, 2);
  }
  return { address, client: createControlClient(address, channelCredentials(source), TLS_CHANNEL_OPTIONS) };
}

/** Calls one ControlService method and closes the client; errors become CliErrors. */
export async function control<Res>(
  command: Command,
  pick: (client: wire.ControlServiceClient) => UnaryMethod<never, Res>,
  request: object,
  options: CallOptions = {},
): Promise<Res> {
  const session = await controlSession(command);
  try {
    return await session.call(pick, request, options);
  } finally {
    session.close();
  }
}

/** One client for several calls (following a rollout polls the manager); `close` it when done. */
export interface ControlSession {
  call<Res>(
    pick: (client: wire.ControlServiceClient) => UnaryMethod<never, Res>,
    request: object,
    options?: CallOptions,
  ): Promise<Res>;
  close(): void;
}

/**
 * With several managers (`--manager a,b,c`), a call goes to the first that answers, and the
 * session stays with it: any manager answers the CLI (a follower forwards to the leader). While
 * no manager leads (a failover, an etcd election) the call is tried again, for up to
 * LEADER_WAIT_MS: a manager that says so did nothing, and a successor leads within a lease.
 */
export async function controlSession(command: Command): Promise<ControlSession> {
  const addresses = managerAddresses(command);
  let at = 0;
  let current = await controlClient(command, addresses[0]);
  let ready = addresses.length === 1;
  return {
    async call(pick, request, options = {}) {
      const waitUntil = Date.now() + LEADER_WAIT_MS;
      for (let tried = 0; ; tried++) {
        const { client } = current;
        try {
          // With several managers, one that does not even finish connecting (frozen, say) is passed over.
          if (!ready) await connected(client, CONNECT_TIMEOUT_MS);
          ready = true;
          return await unary(pick(client), client, request as never, { timeoutMs: 10_000, ...options });
        } catch (err) {
          if (isNoLeader(err) && Date.now() < waitUntil) {
            tried--;
            await new Promise((r) => setTimeout(r, LEADER_RETRY_MS));
            continue;
          }
          // Only a manager that cannot be reached at all sends the CLI to the next one.
          if (tried + 1 >= addresses.length || !isUnreachable(err)) throw cliErrorFrom(err, addresses.join(','));
          client.close();
          at = (at + 1) % addresses.length;
          current = await controlClient(command, addresses[at]);
          ready = false;
        }
      }
    },
    close: () => current.client.close(),
  };
}

/** `--manager a,b,c` (or WARREN_MANAGER): every address, `unix:` paths made absolute. */
export function managerAddresses(command: Command): string[] {
  return managerAddress(command)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '')
    .map((a, i) => (i > 0 && a.startsWith('unix:') ? `unix:${resolve(a.slice('unix:'.length))}` : a));
}

/** How long a call waits for a manager to lead (a failover takes a lease and a campaign). */
const LEADER_WAIT_MS = 8000;
const LEADER_RETRY_MS = 200;

/** How long a manager of several may take to accept the CLI's connection before the next is tried. */
const CONNECT_TIMEOUT_MS = 2000;

function connected(client: wire.ControlServiceClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    client.waitForReady(new Date(Date.now() + timeoutMs), (err) =>
      err ? reject(Object.assign(err, { code: 14, details: err.message })) : resolve(),
    ),
  );
}

/** The manager did not answer at all (no connection): not a manager saying no. */
function isUnreachable(err: unknown): boolean {
  const e = err as { code?: number; details?: string };
  return e.code === 14 && !/leads|leader/.test(e.details ?? '');
}
