import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  CertificateSource,
  TLS_CHANNEL_OPTIONS,
  channelCredentials,
  createControlClient,
  unary,
  type CallOptions,
  type UnaryMethod,
  type wire,
} from '@warren/api';
import { CliError, cliErrorFrom } from './errors.js';

/** The local manager's socket as `warren up`/`npm start` make it: `./.warren/warren.sock`. */
export const DEFAULT_CONTROL_SOCKET = 'unix:.warren/warren.sock';

/** The manager address from --manager, WARREN_MANAGER, or the local socket; `unix:` paths made absolute. */
export function managerAddress(command: Command): string {
  const opts = command.optsWithGlobals<{ manager?: string }>();
  const address = opts.manager ?? process.env.WARREN_MANAGER ?? DEFAULT_CONTROL_SOCKET;
  return address.startsWith('unix:') ? `unix:${resolve(address.slice('unix:'.length))}` : address;
}

/** Files of a client certificate directory, named as Docker's DOCKER_CERT_PATH. */
export const TLS_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' };

/** A ControlService client: over the local socket, or over TLS with the certificate of --tls-dir. */
export function controlClient(command: Command): { address: string; client: wire.ControlServiceClient } {
  const address = managerAddress(command);
  if (address.startsWith('unix:')) return { address, client: createControlClient(address) };
  const dir = command.optsWithGlobals<{ tlsDir?: string }>().tlsDir ?? process.env.WARREN_TLS_DIR;
  if (!dir) {
    throw new CliError(
      `${address} is the manager's TLS port: the CLI needs a client certificate there ` +
        '(--tls-dir DIR or WARREN_TLS_DIR; make one with warren cert issue --out DIR on the manager host)',
      2,
    );
  }
  let source: CertificateSource;
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
  const session = controlSession(command);
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

export function controlSession(command: Command): ControlSession {
  const { address, client } = controlClient(command);
  return {
    async call(pick, request, options = {}) {
      try {
        return await unary(pick(client), client, request as never, { timeoutMs: 10_000, ...options });
      } catch (err) {
        throw cliErrorFrom(err, address);
      }
    },
    close: () => client.close(),
  };
}
