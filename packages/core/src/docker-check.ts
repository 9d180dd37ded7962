/**
 * Docker's own health check — an image's `HEALTHCHECK`, a compose file's `healthcheck:` — as a
 * Warren health spec: one exec check serving as liveness and readiness, with Docker's defaults.
 */
import { ValidationError } from './errors.js';
import type { HealthSpec, Probe } from './spec.js';

/** A Docker check, durations in milliseconds (0 or absent: Docker's default). */
export interface DockerCheck {
  /** `["CMD", arg…]`, `["CMD-SHELL", command]`, `["NONE"]`, or empty (none). */
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
  /** The interval during the start period (Docker 25): a startup phase probing that often. */
  startIntervalMs?: number;
}

/** Docker's defaults (`docker run --health-*`). */
export const DOCKER_CHECK_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 } as const;

/**
 * The health spec Docker's check stands for; undefined when it is none (empty or `NONE`).
 * `field` names the check in errors (`compose.yml:12 services.web.healthcheck.test`).
 */
export function dockerCheckHealth(docker: DockerCheck, field = 'HEALTHCHECK'): HealthSpec | undefined {
  const [kind, ...rest] = docker.test;
  if (kind === undefined || kind === 'NONE') return undefined;
  let command: string[];
  if (kind === 'CMD') command = rest;
  else if (kind === 'CMD-SHELL') command = ['/bin/sh', '-c', rest.join(' ')];
  else throw new ValidationError(field, kind, 'the test starts with CMD, CMD-SHELL or NONE');
  if (command.length === 0 || command.every((a) => a === ''))
    throw new ValidationError(field, kind, 'needs a command');
  const check: Probe = {
    handler: { kind: 'exec', command },
    intervalMs: docker.intervalMs || DOCKER_CHECK_DEFAULTS.intervalMs,
    timeoutMs: docker.timeoutMs || DOCKER_CHECK_DEFAULTS.timeoutMs,
    retries: docker.retries || DOCKER_CHECK_DEFAULTS.retries,
    successThreshold: 1,
    startPeriodMs: docker.startPeriodMs || DOCKER_CHECK_DEFAULTS.startPeriodMs,
  };
  const { startIntervalMs = 0 } = docker;
  if (startIntervalMs <= 0 || check.startPeriodMs <= 0) return { check };
  // Probed every start interval until it first succeeds, for at most the start period.
  const retries = Math.max(1, Math.ceil(check.startPeriodMs / startIntervalMs));
  const startup: Probe = { ...check, intervalMs: startIntervalMs, retries, startPeriodMs: 0 };
  return { startup, check: { ...check, startPeriodMs: 0 } };
}

/** An image's `Config.Healthcheck` as the Engine API gives it (durations in nanoseconds). */
export interface EngineHealthcheck {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

/** The health spec of an image's `HEALTHCHECK`, marked as the image's; undefined without one. */
export function imageHealth(config: EngineHealthcheck | null | undefined): HealthSpec | undefined {
  if (!config?.Test) return undefined;
  const ms = (ns: number | undefined): number => Math.round((ns ?? 0) / 1e6);
  const health = dockerCheckHealth(
    {
      test: config.Test,
      intervalMs: ms(config.Interval),
      timeoutMs: ms(config.Timeout),
      retries: config.Retries ?? 0,
      startPeriodMs: ms(config.StartPeriod),
      startIntervalMs: ms(config.StartInterval),
    },
    'the image HEALTHCHECK',
  );
  return health && { ...health, fromImage: true };
}
