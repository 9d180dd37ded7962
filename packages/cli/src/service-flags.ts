import {
  RESTART_DEFAULTS,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
  SPEC_DEFAULTS,
  ValidationError,
  parseDuration,
  parsePublishedPort,
  validateReplicas,
  validateServiceName,
  validateServiceSpec,
  type Mount,
  type ServiceSpec,
} from '@warren/core';
import { healthFromFlags } from './health-flags.js';
import { policyFromFlags } from './update-flags.js';
import { parseKeyValues } from './key-values.js';
import { parseCount } from './numbers.js';

/** The options of `service create` as commander hands them over (health flags included). */
export interface CreateOptions {
  image: string;
  replicas: string;
  env: string[];
  network: string;
  stopTimeout?: string;
  restartDelay?: string;
  restartMaxDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  maxReplacing?: string;
  mount: string[];
  publish: string[];
  pull: string;
  withRegistryAuth?: boolean;
  [healthFlag: string]: unknown;
}

/** Builds and validates the spec of `service create` from its flags; throws ValidationError. */
export function specFromFlags(name: string, command: string[], o: CreateOptions): ServiceSpec {
  const duration = (text: string | undefined, flag: string, fallback: number): number =>
    text === undefined ? fallback : parseDuration(text, flag);
  const count = (text: string | undefined, flag: string, fallback: number): number =>
    text === undefined ? fallback : parseCount(flag, text);
  return validateServiceSpec({
    name,
    image: o.image,
    replicas: parseCount('--replicas', o.replicas),
    command,
    env: o.env,
    network: o.network,
    stopTimeoutMs: duration(o.stopTimeout, '--stop-timeout', SPEC_DEFAULTS.stopTimeoutMs),
    health: healthFromFlags(o as Record<string, string | undefined>),
    restart: {
      delayMs: duration(o.restartDelay, '--restart-delay', RESTART_DEFAULTS.delayMs),
      maxDelayMs: duration(o.restartMaxDelay, '--restart-max-delay', RESTART_DEFAULTS.maxDelayMs),
      maxAttempts: count(o.restartMaxAttempts, '--restart-max-attempts', RESTART_DEFAULTS.maxAttempts),
      windowMs: duration(o.restartWindow, '--restart-window', RESTART_DEFAULTS.windowMs),
    },
    maxReplacing: count(o.maxReplacing, '--max-replacing', 0),
    mounts: o.mount.map(parseMount),
    pull: o.pull as ServiceSpec['pull'],
    ports: o.publish.map((p) => parsePublishedPort(p)),
    update: policyFromFlags(o as Record<string, unknown>, 'update', UPDATE_DEFAULTS),
    rollback: policyFromFlags(o as Record<string, unknown>, 'rollback', ROLLBACK_DEFAULTS),
  });
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
