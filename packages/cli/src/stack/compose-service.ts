/**
 * One compose service as a Warren service spec (docs/stacks.md has the table). Swarm's keys map
 * onto the flags they mirror; `x-warren` takes Warren's own `service create` flags, without `--`,
 * for what Compose cannot say. A key Warren does not support is named in the warnings; a bad value
 * is a ComposeError naming its file, line and path.
 */
import {
  RESTART_DEFAULTS,
  ROLLBACK_DEFAULTS,
  SPEC_DEFAULTS,
  UPDATE_DEFAULTS,
  ValidationError,
  dockerCheckHealth,
  parseDuration,
  parseExposedPort,
  validateServiceSpec,
  type HealthSpec,
  type ServiceSpec,
} from '@warren/core';
import { healthFromFlags } from '../health-flags.js';
import { throttledFromFlags } from '../resource-flags.js';
import { composeResources } from './compose-resources.js';
import { policyFromFlags } from '../update-flags.js';
import { ComposeError, environment, isMapping, type ComposeFile, type Mapping, type Value } from './compose-file.js';

const SERVICE_KEYS = new Set([
  'image',
  'command',
  'environment',
  'ports',
  'expose',
  'healthcheck',
  'deploy',
  'stop_grace_period',
  'volumes',
  'network_mode',
  'x-warren',
]);
const DEPLOY_KEYS = new Set(['replicas', 'mode', 'update_config', 'rollback_config', 'restart_policy', 'resources']);
const POLICY_KEYS = {
  parallelism: 'Parallelism',
  delay: 'Delay',
  failure_action: 'FailureAction',
  monitor: 'Monitor',
  max_failure_ratio: 'MaxFailureRatio',
  order: 'Order',
} as const;
const PHASES = 'health|startup|liveness|readiness';
const PARTS = 'http|tcp|cmd|grpc|interval|timeout|retries|start-period|success-threshold';
const X_WARREN_KEY = new RegExp(`^((${PHASES})-(${PARTS})|max-replacing|pull|health-throttled)$`);

export interface MappedService {
  spec: ServiceSpec;
  /** Paths of keys Warren does not support (`services.web.build`). */
  unsupported: string[];
}

/** The spec of service `key` of stack `stack`: named `<stack>_<key>`, as Docker names it. */
export function composeService(file: ComposeFile, stack: string, key: string, env: NodeJS.ProcessEnv): MappedService {
  const base = `services.${key}`;
  const fail = (path: string, why: string): never => {
    throw new ComposeError(file.where(path), path, why);
  };
  /** Runs `f`; a ValidationError (a flag's parser) becomes a ComposeError at `path`. */
  const at = <T>(path: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof ValidationError) return fail(path, `${formatValue(err.value)}: ${err.reason}`);
      throw err;
    }
  };
  const svc = file.root.services && isMapping(file.root.services) ? file.root.services[key] : undefined;
  if (!isMapping(svc)) return fail(base, 'a service is a mapping (image: …)');
  const unsupported = Object.keys(svc)
    .filter((k) => !SERVICE_KEYS.has(k))
    .map((k) => `${base}.${k}`);
  const deploy = mapping(svc.deploy, `${base}.deploy`, fail);
  unsupported.push(
    ...Object.keys(deploy)
      .filter((k) => !DEPLOY_KEYS.has(k))
      .map((k) => `${base}.deploy.${k}`),
  );
  if (deploy.mode !== undefined && deploy.mode !== 'replicated')
    fail(`${base}.deploy.mode`, `${String(deploy.mode)} is not supported: replicated only`);
  if (typeof svc.image !== 'string' || svc.image === '') fail(`${base}.image`, 'every service needs an image');
  const replicas = deploy.replicas ?? 1;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
    fail(`${base}.deploy.replicas`, 'must be a whole number ≥ 0');

  const xw = mapping(svc['x-warren'], `${base}.x-warren`, fail);
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(xw)) {
    if (!X_WARREN_KEY.test(k)) fail(`${base}.x-warren.${k}`, 'not a Warren flag x-warren takes (see docs/stacks.md)');
    if (v === null || typeof v === 'object') fail(`${base}.x-warren.${k}`, 'a flag takes one value');
    flags[k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = String(v);
  }
  const own = at(`${base}.x-warren`, () => healthFromFlags(flags));
  const check = healthcheck(svc.healthcheck, `${base}.healthcheck`, fail, at);
  if (check.health?.check && own.check) fail(`${base}.x-warren`, 'the check is given twice: in healthcheck and here');
  const health: HealthSpec = at(`${base}.x-warren`, () =>
    throttledFromFlags(flags, {
      ...check.health,
      ...own,
      ...(own.check || !check.health?.check ? {} : { check: check.health.check }),
    }),
  );

  const restart = mapping(deploy.restart_policy, `${base}.deploy.restart_policy`, fail);
  if (restart.condition === 'none')
    fail(`${base}.deploy.restart_policy.condition`, 'none is not supported: Warren keeps every replica running');
  const duration = (path: string, v: Value | undefined, dflt: number): number =>
    v === undefined ? dflt : at(path, () => parseDuration(String(v), path));
  const rp = `${base}.deploy.restart_policy`;
  const spec: ServiceSpec = {
    name: `${stack}_${key}`,
    stack,
    image: svc.image as string,
    replicas: replicas as number,
    command: command(svc.command, `${base}.command`, fail),
    env: Object.entries(environment(svc.environment ?? {}))
      .filter(([k, v]) => v !== null || env[k] !== undefined)
      .map(([k, v]) => `${k}=${v === null ? env[k] : String(v)}`),
    network: svc.network_mode === 'host' ? 'host' : SPEC_DEFAULTS.network,
    stopTimeoutMs: duration(`${base}.stop_grace_period`, svc.stop_grace_period, SPEC_DEFAULTS.stopTimeoutMs),
    health,
    restart: {
      ...RESTART_DEFAULTS,
      delayMs: duration(`${rp}.delay`, restart.delay, RESTART_DEFAULTS.delayMs),
      maxAttempts: restart.max_attempts === undefined ? 0 : (restart.max_attempts as number),
      windowMs: duration(`${rp}.window`, restart.window, RESTART_DEFAULTS.windowMs),
    },
    maxReplacing: flags.maxReplacing === undefined ? 0 : Number(flags.maxReplacing),
    mounts: volumes(svc.volumes, `${base}.volumes`, fail),
    pull: (flags.pull ?? SPEC_DEFAULTS.pull) as ServiceSpec['pull'],
    ports: ports(svc.ports, `${base}.ports`, fail),
    ...exposed(svc.expose, `${base}.expose`, fail),
    update: at(`${base}.deploy.update_config`, () =>
      policyFromFlags(
        policyFlags(deploy.update_config, 'update', `${base}.deploy.update_config`, fail),
        'update',
        UPDATE_DEFAULTS,
      ),
    ),
    rollback: at(`${base}.deploy.rollback_config`, () =>
      policyFromFlags(
        policyFlags(deploy.rollback_config, 'rollback', `${base}.deploy.rollback_config`, fail),
        'rollback',
        ROLLBACK_DEFAULTS,
      ),
    ),
    forceUpdate: 0,
    ...(check.disabled ? { noHealthcheck: true } : {}),
    ...composeResources(deploy.resources, `${base}.deploy.resources`, fail, at),
  };
  if (svc.network_mode !== undefined && svc.network_mode !== 'host' && svc.network_mode !== 'bridge')
    fail(`${base}.network_mode`, 'host or bridge');
  return { spec: at(base, () => validateServiceSpec(spec)), unsupported };
}

type Fail = (path: string, why: string) => never;

function mapping(value: Value | undefined, path: string, fail: Fail): Mapping {
  if (value === undefined || value === null) return {};
  return isMapping(value) ? value : fail(path, 'must be a mapping');
}

/** `healthcheck:` as Docker reads it; `disable: true` or `test: NONE` turns the image's off too. */
function healthcheck(
  value: Value | undefined,
  path: string,
  fail: Fail,
  at: <T>(path: string, f: () => T) => T,
): { health?: HealthSpec; disabled: boolean } {
  if (value === undefined || value === null) return { disabled: false };
  const hc = mapping(value, path, fail);
  const test = hc.test;
  const words = typeof test === 'string' ? (test === 'NONE' ? ['NONE'] : ['CMD-SHELL', test]) : test;
  if (hc.disable === true || (Array.isArray(words) && words[0] === 'NONE')) return { disabled: true };
  if (!Array.isArray(words) || words.some((w) => typeof w !== 'string'))
    return fail(`${path}.test`, 'a list like [CMD, curl, -f, http://localhost] or [CMD-SHELL, "…"], or a string');
  const ms = (key: string): number | undefined =>
    hc[key] === undefined ? undefined : at(`${path}.${key}`, () => parseDuration(String(hc[key]), `${path}.${key}`));
  if (hc.retries !== undefined && (typeof hc.retries !== 'number' || !Number.isInteger(hc.retries) || hc.retries < 1))
    fail(`${path}.retries`, 'must be a whole number ≥ 1');
  const check = {
    test: words as string[],
    ...optional('intervalMs', ms('interval')),
    ...optional('timeoutMs', ms('timeout')),
    ...optional('retries', hc.retries as number | undefined),
    ...optional('startPeriodMs', ms('start_period')),
    ...optional('startIntervalMs', ms('start_interval')),
  };
  const health = at(`${path}.test`, () => dockerCheckHealth(check, `${path}.test`));
  return health ? { health, disabled: false } : { disabled: true };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** A string command is split as a shell splits words (no shell runs it), as Compose does. */
function command(value: Value | undefined, path: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return fail(path, 'a string or a list');
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) words.push(m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]!);
  return words;
}

/** `expose`: `8080`, `"8080/tcp"`: served by the service's name to the other tasks. */
function exposed(value: Value | undefined, path: string, fail: Fail): { expose?: number[] } {
  if (value === undefined || value === null) return {};
  if (!Array.isArray(value)) return fail(path, 'a list');
  const ports = value.map((p, i) => {
    try {
      return parseExposedPort(String(p), 'expose');
    } catch (err) {
      return fail(`${path}[${i}]`, err instanceof ValidationError ? err.reason : (err as Error).message);
    }
  });
  return ports.length > 0 ? { expose: [...new Set(ports)] } : {};
}

/** `ports`: `8080:80`, `8080:80/tcp`, or `{ target, published, protocol }`; Warren publishes TCP on every node. */
function ports(value: Value | undefined, path: string, fail: Fail): ServiceSpec['ports'] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(path, 'a list');
  return value.map((p, i) => {
    const where = `${path}[${i}]`;
    let published: unknown;
    let target: unknown;
    let protocol: unknown = 'tcp';
    if (isMapping(p)) ({ published, target, protocol = 'tcp' } = p);
    else {
      const m = /^(?:(\d+):)?(\d+)(?:\/(\w+))?$/.exec(String(p));
      if (!m) return fail(where, `${JSON.stringify(p)}: write PUBLISHED:TARGET, like 8080:80 (no host address)`);
      [, published, target, protocol = 'tcp'] = m;
    }
    if (published === undefined) return fail(where, 'give the published port too (PUBLISHED:TARGET)');
    if (protocol !== 'tcp') return fail(where, `${String(protocol)}: Warren publishes tcp only`);
    return { published: Number(published), target: Number(target), protocol: 'tcp' as const };
  });
}

/** `volumes`: bind mounts only, `/host:/container[:ro]` or `{ type: bind, source, target, read_only }`. */
function volumes(value: Value | undefined, path: string, fail: Fail): ServiceSpec['mounts'] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(path, 'a list');
  return value.map((v, i) => {
    if (isMapping(v)) {
      if (v.type !== 'bind') fail(`${path}[${i}]`, 'bind mounts only (type: bind)');
      return { source: String(v.source), target: String(v.target), readonly: v.read_only === true };
    }
    const [source = '', target, mode] = String(v).split(':');
    if (!source.startsWith('/') || !target)
      return fail(`${path}[${i}]`, 'bind mounts only: /host/dir:/container/dir[:ro]');
    return { source, target, readonly: mode === 'ro' };
  });
}

/** `update_config` / `rollback_config` as the flags they mirror (`--update-parallelism` …). */
function policyFlags(value: Value | undefined, prefix: string, path: string, fail: Fail): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mapping(value, path, fail))) {
    const name = POLICY_KEYS[k as keyof typeof POLICY_KEYS];
    if (!name) fail(`${path}.${k}`, `not a key of ${prefix}_config (${Object.keys(POLICY_KEYS).join(', ')})`);
    flags[`${prefix}${name}`] = String(v);
  }
  return flags;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
