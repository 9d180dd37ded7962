import type { Command } from 'commander';
import {
  RESTART_DEFAULTS,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
  SPEC_DEFAULTS,
  ValidationError,
  parseDuration,
  parseExposedPort,
  parsePublishedPort,
  validateReplicas,
  validateServiceName,
  validateServiceSpec,
  formatDuration,
  type Mount,
  type RestartPolicy,
  type ServiceSpec,
} from '@warren/core';
import { healthFromFlags } from './health-flags.js';
import { policyFromFlags } from './update-flags.js';
import { parseKeyValues } from './key-values.js';
import { parseCount } from './numbers.js';
import { resourcesFromFlags, throttledFromFlags, type ResourceOptions } from './resource-flags.js';

/** The options of `service create` as commander hands them over (health flags included). */
export interface CreateOptions extends RestartOptions, ResourceOptions {
  image: string;
  replicas: string;
  env: string[];
  network: string;
  stopTimeout?: string;
  mount: string[];
  publish: string[];
  expose?: string[];
  pull: string;
  withRegistryAuth?: boolean;
  [healthFlag: string]: unknown;
}

/** Builds and validates the spec of `service create` from its flags; throws ValidationError. */
export function specFromFlags(name: string, command: string[], o: CreateOptions): ServiceSpec {
  return validateServiceSpec({
    name,
    image: o.image,
    replicas: parseCount('--replicas', o.replicas),
    command,
    env: o.env,
    network: o.network,
    stopTimeoutMs:
      o.stopTimeout === undefined ? SPEC_DEFAULTS.stopTimeoutMs : parseDuration(o.stopTimeout, '--stop-timeout'),
    health: throttledFromFlags(o, healthFromFlags(o as Record<string, string | undefined>)),
    ...noImageCheck(o),
    restart: restartFromFlags(o, RESTART_DEFAULTS),
    maxReplacing: o.maxReplacing === undefined ? 0 : parseCount('--max-replacing', o.maxReplacing),
    mounts: o.mount.map(parseMount),
    pull: o.pull as ServiceSpec['pull'],
    ports: o.publish.map((p) => parsePublishedPort(p)),
    ...exposeOf((o.expose ?? []).map((p) => parseExposedPort(p))),
    update: policyFromFlags(o as Record<string, unknown>, 'update', UPDATE_DEFAULTS),
    rollback: policyFromFlags(o as Record<string, unknown>, 'rollback', ROLLBACK_DEFAULTS),
    forceUpdate: 0,
    ...resourcesFromFlags(o),
  });
}

/** `expose` of a spec: absent for none. */
export function exposeOf(ports: number[]): { expose?: number[] } {
  return ports.length > 0 ? { expose: ports } : {};
}

/** `--no-healthcheck`: the image's HEALTHCHECK is not used; with a check of the service's own, it says nothing. */
function noImageCheck(o: CreateOptions): { noHealthcheck?: true } {
  if (o.healthcheck !== false) return {};
  const own = Object.keys(o).find(
    (k) => /^(health|startup|liveness|readiness)[A-Z]/.test(k) && k !== 'healthThrottled' && o[k] !== undefined,
  );
  if (own)
    throw new ValidationError('--no-healthcheck', 'given', `it conflicts with the check flags (${flagName(own)})`);
  return { noHealthcheck: true };
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The flags of the restart policy and of --max-replacing, as commander hands them over. */
export interface RestartOptions {
  restartDelay?: string;
  restartMaxDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  maxReplacing?: string;
}

/** `--restart-*` and `--max-replacing`; `defaults`: the help names them (create; update keeps the current). */
export function addRestartOptions(command: Command, defaults = true): Command {
  const r = RESTART_DEFAULTS;
  const dflt = (value: string): string => (defaults ? ` (default ${value})` : '');
  return command
    .option(
      '--restart-delay <duration>',
      `wait before the 2nd replacement of a slot in a row, doubling after${dflt(formatDuration(r.delayMs))}`,
    )
    .option('--restart-max-delay <duration>', `longest wait between replacements${dflt(formatDuration(r.maxDelayMs))}`)
    .option(
      '--restart-max-attempts <n>',
      `replacements of a slot in a row before giving up${dflt('0: never give up')}`,
    )
    .option(
      '--restart-window <duration>',
      `healthy this long forgives a slot's failures${dflt(formatDuration(r.windowMs))}`,
    )
    .option(
      '--max-replacing <n>',
      `tasks replaced for health at once, at most${dflt('a third of the replicas, at least 1')}`,
    );
}

/** The restart policy the flags ask for, each unset flag taken from `base`. Validated with the spec. */
export function restartFromFlags(o: RestartOptions, base: RestartPolicy): RestartPolicy {
  const duration = (text: string | undefined, flag: string, value: number): number =>
    text === undefined ? value : parseDuration(text, flag);
  return {
    delayMs: duration(o.restartDelay, '--restart-delay', base.delayMs),
    maxDelayMs: duration(o.restartMaxDelay, '--restart-max-delay', base.maxDelayMs),
    maxAttempts:
      o.restartMaxAttempts === undefined
        ? base.maxAttempts
        : parseCount('--restart-max-attempts', o.restartMaxAttempts),
    windowMs: duration(o.restartWindow, '--restart-window', base.windowMs),
  };
}

/** `source=/host/dir,target=/dir[,readonly]` → a bind mount. */
export function parseMount(text: string): Mount {
  const fields = parseKeyValues('--mount', text, {
    keys: ['source', 'target'],
    words: ['readonly'],
    aliases: { src: 'source', dst: 'target', destination: 'target', ro: 'readonly' },
  });
  const source = fields.get('source');
  const target = fields.get('target');
  if (!source || !target) throw new ValidationError('--mount', text, 'needs both source= and target=');
  return { source, target, readonly: fields.has('readonly') };
}

/** `web=5 api=2` (the arguments of `service scale`) → names and replica counts. */
export function parseScaleTargets(pairs: readonly string[]): Array<{ name: string; replicas: number }> {
  return pairs.map((pair) => {
    const eq = pair.lastIndexOf('=');
    if (eq <= 0) throw new ValidationError('scale', pair, 'write it as NAME=REPLICAS');
    const name = validateServiceName(pair.slice(0, eq));
    return { name, replicas: validateReplicas(parseCount('replicas', pair.slice(eq + 1)), `replicas of ${name}`) };
  });
}
