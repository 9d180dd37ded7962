import { resolve } from 'node:path';
import type { Command } from 'commander';

/** The local manager's socket as `warren up`/`npm start` make it: `./.warren/warren.sock`. */
export const DEFAULT_CONTROL_SOCKET = 'unix:.warren/warren.sock';

/** The manager address from --manager, WARREN_MANAGER, or the local socket; `unix:` paths made absolute. */
export function managerAddress(command: Command): string {
  const opts = command.optsWithGlobals<{ manager?: string }>();
  const address = opts.manager ?? process.env.WARREN_MANAGER ?? DEFAULT_CONTROL_SOCKET;
  return address.startsWith('unix:') ? `unix:${resolve(address.slice('unix:'.length))}` : address;
}
