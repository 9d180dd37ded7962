import { ValidationError } from './errors.js';
import { isImageRef } from './image.js';
import { validateExposedPorts, validatePublishedPorts, type PublishedPort } from './ports.js';
import { validateResources, type Resources } from './resources.js';
import { validateUpdatePolicy, type UpdatePolicy, type UpdateStatus } from './update-policy.js';

/** Defaults of a service spec, next to their names. */
export const SPEC_DEFAULTS = {
  replicas: 1,
  network: 'bridge',
  stopTimeoutMs: 10_000,
  pull: 'missing',
} as const;

/** When a worker pulls a task's image, as `docker run --pull`. */
export const PULL_POLICIES = ['missing', 'always', 'never'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export const PROBE_DEFAULTS = {
  intervalMs: 30_000,
  timeoutMs: 10_000,
  retries: 3,
  successThreshold: 1,
  startPeriodMs: 0,
} as const;

export const MAX_REPLICAS = 1000;

/** Per-slot restart backoff, in the manner of Swarm's restart policy. */
export interface RestartPolicy {
  /** Delay before the second replacement of a slot in a row; doubles with each further one. */
  delayMs: number;
  maxDelayMs: number;
  /** Replacements in a row after which the slot gives up; 0: never. */
  maxAttempts: number;
  /** A slot whose task stays running and healthy this long is forgiven its failures. */
  windowMs: number;
}

export const RESTART_DEFAULTS: RestartPolicy = {
  delayMs: 1000,
  maxDelayMs: 300_000,
  maxAttempts: 0,
  windowMs: 600_000,
};

/** A host directory mounted into every task's container. */
export interface Mount {
  source: string;
  target: string;
  readonly: boolean;
}

export interface HttpHeader {
  name: string;
  value: string;
}

export type ProbeHandler =
  | {
      kind: 'http';
      path: string;
      port: number;
      scheme: 'http' | 'https';
      headers: HttpHeader[];
      statusMin: number;
      statusMax: number;
    }
  | { kind: 'tcp'; port: number }
  | { kind: 'exec'; command: string[] }
  | { kind: 'grpc'; port: number; service: string };

export interface Probe {
  handler: ProbeHandler;
  intervalMs: number;
  timeoutMs: number;
  /** Failure threshold. */
  retries: number;
  successThreshold: number;
  startPeriodMs: number;
}

/** `check` is the Docker-style check serving as liveness and readiness; explicit phases win. */
export interface HealthSpec {
  startup?: Probe;
  liveness?: Probe;
  readiness?: Probe;
  check?: Probe;
  /** Set by the manager on a task's copy: these checks are the image's HEALTHCHECK. */
  fromImage?: boolean;
  /** How a failure while CPU-throttled counts (`--health-throttled`); absent: `unknown`, bounded. */
  throttled?: ThrottledPolicy;
}

/** `unknown`: a failed run in a throttled container is not counted, `retries` times in a row at most. */
export const THROTTLED_POLICIES = ['unknown', 'failure'] as const;
export type ThrottledPolicy = (typeof THROTTLED_POLICIES)[number];

export interface ServiceSpec {
  name: string;
  image: string;
  replicas: number;
  /** Empty: the image's default command. */
  command: string[];
  /** `KEY=VALUE` entries. */
  env: string[];
  /** `bridge`, `host`, or a Docker network name. */
  network: string;
  stopTimeoutMs: number;
  health: HealthSpec;
  restart: RestartPolicy;
  /** Tasks being replaced for health at once, at most; 0: one third of the replicas, at least 1. */
  maxReplacing: number;
  mounts: Mount[];
  /** `missing` (default): pull when the node lacks the image; `always`: at every task start; `never`. */
  pull: PullPolicy;
  /** Ports every ready node forwards to the service's ready tasks. */
  ports: PublishedPort[];
  /** Ports served by name only (`--expose`): with `ports`' targets, what its virtual IP serves. */
  expose?: number[];
  /** How `service update` rolls the tasks over, and how a rollback rolls them back. */
  update: UpdatePolicy;
  rollback: UpdatePolicy;
  /** Bumped by `service update --force`: tasks roll over though nothing else changed. */
  forceUpdate: number;
  /** The image's HEALTHCHECK is not used when the spec gives no check (`--no-healthcheck`). */
  noHealthcheck?: boolean;
  /** The stack that deployed it (`warren stack deploy`); absent for none. */
  stack?: string;
  /** Limits for its containers and reservations for placement; absent for none. */
  resources?: Resources;
}

/** The replacement budget of a spec: `maxReplacing`, or one third of the replicas (at least 1). */
export function replacementBudget(spec: Pick<ServiceSpec, 'maxReplacing' | 'replicas'>): number {
  return spec.maxReplacing > 0 ? spec.maxReplacing : Math.max(1, Math.floor(spec.replicas / 3));
}

export interface Service {
  id: string;
  /** `spec.image` is pinned to a digest (`name:tag@sha256:…`) when the manager could resolve one. */
  spec: ServiceSpec;
  createdAt: number;
  updatedAt: number;
  /** Why the image is not pinned (the registry did not answer, no node could ask it); '' otherwise. */
  imageNote?: string;
  /** The spec before the last `service update` (what `service rollback` returns to). */
  previousSpec?: ServiceSpec;
  /** The last rollout, if any. */
  update?: UpdateStatus;
}

/** What a service name may be: a letter or digit, then up to 62 of letters, digits, `_` and `-`. */
export const SERVICE_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_STOP_TIMEOUT_MS = 3_600_000;
const MIN_PROBE_PERIOD_MS = 10;

export function validateServiceName(name: string, what = 'service name'): string {
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new ValidationError(what, name, 'use 1-63 letters, digits, "-" or "_", starting with a letter or digit');
  }
  return name;
}

export function validateReplicas(replicas: number, field = '--replicas'): number {
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
    throw new ValidationError(field, replicas, `must be a whole number from 0 to ${MAX_REPLICAS}`);
  }
  return replicas;
}

/** Parses a `--env` entry, `KEY=VALUE` (the value may be empty or contain `=`). */
export function validateEnvEntry(entry: string): string {
  const eq = entry.indexOf('=');
  const key = eq < 0 ? entry : entry.slice(0, eq);
  if (eq < 0 || !ENV_KEY.test(key)) {
    throw new ValidationError('--env', entry, 'write it as KEY=VALUE, KEY made of letters, digits and "_"');
  }
  return entry;
}

/**
 * Checks a whole spec and returns it complete. The one gate for specs: the CLI calls it before
 * sending, the manager calls it again on every request, so a hand-made client cannot store a
 * bad spec.
 */
export function validateServiceSpec(spec: ServiceSpec): ServiceSpec {
  validateServiceName(spec.name);
  if (!isImageRef(spec.image)) {
    const like = 'like redis:7 or 127.0.0.1:5000/team/web:v1, lower case, an optional @sha256: digest';
    throw new ValidationError('--image', spec.image, `not an image reference (${like})`);
  }
  if (!(PULL_POLICIES as readonly string[]).includes(spec.pull)) {
    throw new ValidationError('--pull', spec.pull, `use one of ${PULL_POLICIES.join(', ')}`);
  }
  validateReplicas(spec.replicas);
  spec.env.forEach(validateEnvEntry);
  if (!NETWORK_NAME.test(spec.network)) {
    throw new ValidationError('--network', spec.network, 'use host, bridge or the name of a Docker network');
  }
  if (!Number.isInteger(spec.stopTimeoutMs) || spec.stopTimeoutMs < 0 || spec.stopTimeoutMs > MAX_STOP_TIMEOUT_MS) {
    throw new ValidationError('--stop-timeout', `${spec.stopTimeoutMs}ms`, 'must be between 0s and 1h');
  }
  const r = spec.restart;
  for (const [flag, ms] of [
    ['--restart-delay', r.delayMs],
    ['--restart-max-delay', r.maxDelayMs],
    ['--restart-window', r.windowMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms < 0 || ms > 86_400_000)
      throw new ValidationError(flag, `${ms}ms`, 'must be between 0s and 24h');
  }
  if (r.maxDelayMs < r.delayMs)
    throw new ValidationError('--restart-max-delay', `${r.maxDelayMs}ms`, 'must not be shorter than --restart-delay');
  if (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 0)
    throw new ValidationError('--restart-max-attempts', r.maxAttempts, 'must be a whole number (0: no limit)');
  if (!Number.isInteger(spec.maxReplacing) || spec.maxReplacing < 0 || spec.maxReplacing > MAX_REPLICAS) {
    throw new ValidationError(
      '--max-replacing',
      spec.maxReplacing,
      `must be a whole number from 1 to ${MAX_REPLICAS} (0: one third of the replicas)`,
    );
  }
  for (const m of spec.mounts) {
    if (!m.source.startsWith('/') || !m.target.startsWith('/') || /[,:]/.test(m.source + m.target)) {
      throw new ValidationError(
        '--mount',
        `source=${m.source},target=${m.target}`,
        'source and target must be absolute paths without "," or ":"',
      );
    }
  }
  validatePublishedPorts(spec.ports, spec.network);
  validateExposedPorts(spec.expose ?? [], spec.network);
  if (spec.resources) validateResources(spec.resources);
  validateUpdatePolicy(spec.update, '--update');
  validateUpdatePolicy(spec.rollback, '--rollback');
  const throttled = spec.health.throttled;
  if (throttled !== undefined && !(THROTTLED_POLICIES as readonly string[]).includes(throttled))
    throw new ValidationError('--health-throttled', throttled, `use one of ${THROTTLED_POLICIES.join(', ')}`);
  if (spec.health.fromImage)
    throw new ValidationError('health', 'from the image', 'only a task takes the image check');
  for (const phase of ['startup', 'liveness', 'readiness', 'check'] as const) {
    const probe = spec.health[phase];
    if (probe) validateProbe(probe, phase === 'check' ? '--health' : `--${phase}`);
  }
  return spec;
}

export function validateProbe(probe: Probe, prefix: string): void {
  const h = probe.handler;
  if (h.kind === 'exec' && (h.command.length === 0 || h.command.every((a) => a === ''))) {
    throw new ValidationError(`${prefix}-cmd`, '', 'needs a command');
  }
  if (h.kind !== 'exec' && (!Number.isInteger(h.port) || h.port < 1 || h.port > 65_535)) {
    throw new ValidationError(`${prefix}-${h.kind}`, `port=${h.port}`, 'port must be 1-65535');
  }
  if (h.kind === 'http') {
    if (!h.path.startsWith('/'))
      throw new ValidationError(`${prefix}-http`, `path=${h.path}`, 'path must start with "/"');
    if (!(h.statusMin >= 100 && h.statusMin <= h.statusMax && h.statusMax <= 599)) {
      throw new ValidationError(
        `${prefix}-http`,
        `status=${h.statusMin}-${h.statusMax}`,
        'status must be a range within 100-599',
      );
    }
  }
  for (const [flag, ms] of [
    ['interval', probe.intervalMs],
    ['timeout', probe.timeoutMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms < MIN_PROBE_PERIOD_MS) {
      throw new ValidationError(`${prefix}-${flag}`, `${ms}ms`, `must be at least ${MIN_PROBE_PERIOD_MS}ms`);
    }
  }
  if (!Number.isFinite(probe.startPeriodMs) || probe.startPeriodMs < 0) {
    throw new ValidationError(`${prefix}-start-period`, `${probe.startPeriodMs}ms`, 'must not be negative');
  }
  for (const [flag, n] of [
    ['retries', probe.retries],
    ['success-threshold', probe.successThreshold],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new ValidationError(`${prefix}-${flag}`, n, 'must be a whole number of at least 1');
  }
}
