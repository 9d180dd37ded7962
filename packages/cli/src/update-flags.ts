import type { Command } from 'commander';
import { UPDATE_DEFAULTS, ValidationError, formatDuration, parseDuration, type UpdatePolicy } from '@warren/core';
import { parseCount } from './numbers.js';

type Prefix = 'update' | 'rollback';

/**
 * The --update-* and --rollback-* flags (Swarm's), on `service create` and `service update`.
 * `defaults`: the help names Swarm's defaults (create); `service update` keeps the current policy.
 */
export function addUpdatePolicyOptions(command: Command, defaults = true): Command {
  const d = UPDATE_DEFAULTS;
  const dflt = (value: string | number): string => (defaults ? ` (default ${value})` : '');
  for (const prefix of ['update', 'rollback'] as const) {
    const what = prefix === 'update' ? 'an update' : 'a rollback';
    const actions = prefix === 'update' ? 'pause, continue or rollback' : 'pause or continue';
    command
      .option(`--${prefix}-parallelism <n>`, `slots ${what} replaces at once, 0: all${dflt(d.parallelism)}`)
      .option(`--${prefix}-delay <duration>`, `wait between batches of ${what}${dflt(formatDuration(d.delayMs))}`)
      .option(
        `--${prefix}-monitor <duration>`,
        `how long each new task of ${what} must stay healthy and ready${dflt(formatDuration(d.monitorMs))}`,
      )
      .option(`--${prefix}-failure-action <action>`, `when new tasks of ${what} fail: ${actions}${dflt('pause')}`)
      .option(`--${prefix}-max-failure-ratio <fraction>`, `failed new tasks tolerated, 0 to 1${dflt(0)}`)
      .option(`--${prefix}-order <order>`, `stop-first or start-first${dflt(d.order)}`);
  }
  return command;
}

/** The policy the flags of `prefix` ask for, each unset flag taken from `base`. Not validated here. */
export function policyFromFlags(o: Record<string, unknown>, prefix: Prefix, base: UpdatePolicy): UpdatePolicy {
  const text = (name: string): string | undefined => {
    const value = o[`${prefix}${name}`];
    return typeof value === 'string' ? value : undefined;
  };
  const flag = (name: string): string => `--${prefix}-${name}`;
  const parallelism = text('Parallelism');
  const delay = text('Delay');
  const monitor = text('Monitor');
  const ratio = text('MaxFailureRatio');
  return {
    parallelism: parallelism === undefined ? base.parallelism : parseCount(flag('parallelism'), parallelism),
    delayMs: delay === undefined ? base.delayMs : parseDuration(delay, flag('delay')),
    monitorMs: monitor === undefined ? base.monitorMs : parseDuration(monitor, flag('monitor')),
    failureAction: (text('FailureAction') ?? base.failureAction) as UpdatePolicy['failureAction'],
    maxFailureRatio: ratio === undefined ? base.maxFailureRatio : parseRatio(flag('max-failure-ratio'), ratio),
    order: (text('Order') ?? base.order) as UpdatePolicy['order'],
  };
}

function parseRatio(flag: string, text: string): number {
  if (!/^\d*\.?\d+$/.test(text.trim())) throw new ValidationError(flag, text, 'must be a fraction from 0 to 1');
  return Number(text);
}
