/**
 * `service update`: the new spec, built from the current one and the flags as the docker CLI
 * does (what no flag names stays as it is), validated whole before it is sent.
 */
import type { Command } from 'commander';
import {
  ValidationError,
  parseDuration,
  parseExposedPort,
  parsePublishedPort,
  validateEnvEntry,
  validateServiceSpec,
  type PublishedPort,
  type ServiceSpec,
} from '@warren/core';
import { addHealthOptions, addHealthRemovalOptions, updatedHealthFromFlags } from './health-flags.js';
import { parseCount } from './numbers.js';
import { collect } from './options.js';
import { addRestartOptions, exposeOf, restartFromFlags, type RestartOptions } from './service-flags.js';
import { addUpdatePolicyOptions, policyFromFlags } from './update-flags.js';
import { addResourceOptions, resourcesFromFlags, throttledFromFlags, type ResourceOptions } from './resource-flags.js';

/** The options of `service update` as commander hands them over (health and policy flags included). */
export interface UpdateOptions extends RestartOptions, ResourceOptions {
  image?: string;
  replicas?: string;
  envAdd: string[];
  envRm: string[];
  publishAdd: string[];
  publishRm: string[];
  exposeAdd?: string[];
  exposeRm?: string[];
  stopTimeout?: string;
  pull?: string;
  withRegistryAuth?: boolean;
  force?: boolean;
  [flag: string]: unknown;
}

/** The flags that change a spec; none has a default: an unset flag keeps what the service has. */
export function addServiceUpdateOptions(command: Command): Command {
  command
    .option('--image <image>', 'the new image (pinned to its digest when its registry answers)')
    .option('--replicas <n>', 'number of tasks')
    .option('--env-add <KEY=VALUE>', 'set an environment variable, replacing its value (repeatable)', collect, [])
    .option('--env-rm <KEY>', 'remove an environment variable (repeatable)', collect, [])
    .option(
      '--publish-add <published=PORT,target=PORT>',
      'publish a port, or change its target (also PORT:PORT; repeatable)',
      collect,
      [],
    )
    .option('--publish-rm <PORT>', 'stop publishing a port, named by its published port (repeatable)', collect, [])
    .option('--expose-add <PORT>', "serve a port by the service's name (repeatable)", collect, [])
    .option('--expose-rm <PORT>', 'stop serving a port by name only (repeatable)', collect, [])
    .option('--stop-timeout <duration>', 'time between SIGTERM and SIGKILL when stopping')
    .option('--pull <policy>', 'pull the image: missing (when the node lacks it), always, never')
    .option('--with-registry-auth', "send your credentials for the image's registry (Docker's config.json)")
    .option('--force', 'roll every task over, even when nothing else changed');
  addRestartOptions(command, false);
  addUpdatePolicyOptions(command, false);
  addResourceOptions(command);
  return addHealthRemovalOptions(addHealthOptions(command, false));
}

/**
 * The spec `service update` sends: `current` with the flags applied, validated; throws
 * ValidationError naming the flag. The image stays the current (pinned) one unless --image is
 * given; the policies keep the current ones but for the flags given; --force bumps forceUpdate.
 */
export function updatedSpec(current: ServiceSpec, o: UpdateOptions): ServiceSpec {
  const flags = o as Record<string, unknown>;
  const { noHealthcheck, expose, resources, ...kept } = current;
  return validateServiceSpec({
    ...kept,
    image: o.image ?? current.image,
    replicas: o.replicas === undefined ? current.replicas : parseCount('--replicas', o.replicas),
    env: updatedEnv(current.env, o.envAdd, o.envRm),
    stopTimeoutMs:
      o.stopTimeout === undefined ? current.stopTimeoutMs : parseDuration(o.stopTimeout, '--stop-timeout'),
    health: throttledFromFlags(o, updatedHealthFromFlags(flags, current.health)),
    ...imageCheckFlags(flags, noHealthcheck === true),
    restart: restartFromFlags(o, current.restart),
    maxReplacing: o.maxReplacing === undefined ? current.maxReplacing : parseCount('--max-replacing', o.maxReplacing),
    pull: (o.pull ?? current.pull) as ServiceSpec['pull'],
    ports: updatedPorts(current.ports, o.publishAdd, o.publishRm),
    ...exposeOf(updatedExpose(expose ?? [], o.exposeAdd ?? [], o.exposeRm ?? [])),
    update: policyFromFlags(flags, 'update', current.update),
    rollback: policyFromFlags(flags, 'rollback', current.rollback),
    forceUpdate: current.forceUpdate + (o.force ? 1 : 0),
    ...resourcesFromFlags(o, resources),
  });
}

/** As docker's: --no-healthcheck turns the image's HEALTHCHECK off too; --image-healthcheck back on. */
function imageCheckFlags(flags: Record<string, unknown>, wasOff: boolean): { noHealthcheck?: true } {
  const off = flags.healthcheck === false || (wasOff && flags.imageHealthcheck !== true);
  return off ? { noHealthcheck: true } : {};
}

/** --expose-rm, then --expose-add; a port already exposed, or not exposed, is left as it is. */
export function updatedExpose(expose: readonly number[], add: readonly string[], rm: readonly string[]): number[] {
  const removed = new Set(rm.map((p) => parseExposedPort(p, '--expose-rm')));
  const kept = expose.filter((p) => !removed.has(p));
  for (const p of add.map((text) => parseExposedPort(text, '--expose-add'))) if (!kept.includes(p)) kept.push(p);
  return kept;
}

/**
 * --env-rm, then --env-add (as docker): an added KEY replaces the entry of that KEY where it is;
 * removing a KEY that is not set does nothing (the result is what was asked for).
 */
export function updatedEnv(env: readonly string[], add: readonly string[], rm: readonly string[]): string[] {
  const keyOf = (entry: string): string => entry.slice(0, entry.indexOf('='));
  for (const key of rm) {
    if (key.includes('=')) throw new ValidationError('--env-rm', key, 'name the variable alone, as KEY');
    asFlag('--env-rm', key, () => validateEnvEntry(`${key}=`));
  }
  const added = new Map<string, string>();
  for (const entry of add) added.set(keyOf(asFlag('--env-add', entry, () => validateEnvEntry(entry))), entry);
  const kept = env.filter((e) => !rm.includes(keyOf(e)) || added.has(keyOf(e)));
  const replaced = kept.map((e) => added.get(keyOf(e)) ?? e);
  const fresh = [...added].filter(([key]) => !kept.some((e) => keyOf(e) === key)).map(([, entry]) => entry);
  return [...replaced, ...fresh];
}

/**
 * --publish-rm (by published port), then --publish-add: an added port already published replaces
 * it where it is; removing a port that is not published does nothing.
 */
export function updatedPorts(
  ports: readonly PublishedPort[],
  add: readonly string[],
  rm: readonly string[],
): PublishedPort[] {
  const removed = new Set(rm.map(publishedPortOf));
  const added = new Map<number, PublishedPort>();
  for (const text of add) {
    const port = parsePublishedPort(text, '--publish-add');
    if (added.has(port.published)) {
      throw new ValidationError('--publish-add', text, `port ${port.published} is given twice`);
    }
    added.set(port.published, port);
  }
  const kept = ports.filter((p) => !removed.has(p.published) || added.has(p.published));
  const replaced = kept.map((p) => added.get(p.published) ?? p);
  const fresh = [...added.values()].filter((a) => !kept.some((p) => p.published === a.published));
  return [...replaced, ...fresh];
}

/** `8080`, or any form --publish takes (`8080:80`, `published=8080,target=80`): the published port. */
function publishedPortOf(text: string): number {
  if (/^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65_535) return Number(text);
  try {
    return parsePublishedPort(text, '--publish-rm').published;
  } catch {
    throw new ValidationError('--publish-rm', text, 'name the published port: 8080 (or 8080:80)');
  }
}

/** Runs a check of core's that names its own field (`--env`) and names `flag` instead. */
function asFlag<T>(flag: string, value: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(flag, value, err.reason);
    throw err;
  }
}
