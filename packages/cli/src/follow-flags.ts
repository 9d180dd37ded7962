/** The flags of the commands that wait (`--detach`, `--wait-timeout`); follow.ts does the waiting. */
import type { Command } from 'commander';
import { ValidationError, parseDuration } from '@warren/core';

/** How long a command follows at most (`--wait-timeout`): generous, a rollout of many slots takes a while. */
export const DEFAULT_WAIT_TIMEOUT = '1h';

export interface FollowFlags {
  detach?: boolean;
  waitTimeout: string;
}

/** The command waits and shows the progress unless --detach; `what` is what it waits for. */
export function addFollowOptions(command: Command, what: string): Command {
  return command
    .option('-d, --detach', `return at once instead of waiting for ${what} and showing the progress`)
    .option(
      '--wait-timeout <duration>',
      'stop waiting after this long (the manager goes on without the CLI)',
      DEFAULT_WAIT_TIMEOUT,
    );
}

/** `--wait-timeout` in ms; checked before anything is sent. */
export function waitTimeoutMs(flags: FollowFlags): number {
  const ms = parseDuration(flags.waitTimeout, '--wait-timeout');
  if (ms <= 0) throw new ValidationError('--wait-timeout', flags.waitTimeout, 'must be longer than 0s');
  return ms;
}
