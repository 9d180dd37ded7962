import type { Command } from 'commander';
import {
  DEFAULT_MANAGER_ADDRESS,
  createControlClient,
  unary,
  type CallOptions,
  type UnaryMethod,
  type wire,
} from '@warren/api';
import { cliErrorFrom } from './errors.js';

/** The manager address from --manager, WARREN_MANAGER, or the default. */
export function managerAddress(command: Command): string {
  const opts = command.optsWithGlobals<{ manager?: string }>();
  return opts.manager ?? process.env.WARREN_MANAGER ?? DEFAULT_MANAGER_ADDRESS;
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
  const address = managerAddress(command);
  const client = createControlClient(address);
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
