import type { Command } from 'commander';
import {
  PROBE_DEFAULTS,
  ValidationError,
  formatDuration,
  parseDuration,
  type HealthSpec,
  type Probe,
  type ProbeHandler,
} from '@warren/core';
import { parseKeyValues } from './key-values.js';
import { parseCount } from './numbers.js';

/**
 * The health flags of `service create` (DESIGN.md section 3). Four prefixes, one per probe:
 * `--health-*` (the Docker-style check serving liveness and readiness), `--startup-*`,
 * `--liveness-*`, `--readiness-*`; each takes one handler and the timing flags.
 */
const PREFIXES = { health: 'check', startup: 'startup', liveness: 'liveness', readiness: 'readiness' } as const;
type Prefix = keyof typeof PREFIXES;

const HTTP_SYNTAX = 'path=/health,port=8080[,scheme=https][,header=Name:Value][,status=200-299]';

export function addHealthOptions(command: Command, showDefaults = true): Command {
  const d = PROBE_DEFAULTS;
  // `service update` keeps a probe's current timing, so it names no default.
  const dflt = (value: string | number): string => (showDefaults ? ` (default ${value})` : '');
  for (const prefix of Object.keys(PREFIXES) as Prefix[]) {
    const what = prefix === 'health' ? 'check (liveness and readiness)' : `${prefix} probe`;
    command
      .option(`--${prefix}-http <spec>`, `HTTP ${what}: ${HTTP_SYNTAX}`)
      .option(`--${prefix}-tcp <spec>`, `TCP ${what}: port=6379`)
      .option(`--${prefix}-cmd <command>`, `exec ${what}: a shell command, or a JSON array for argv form`)
      .option(`--${prefix}-grpc <spec>`, `gRPC ${what} (grpc.health.v1): port=50051[,service=NAME]`)
      .option(
        `--${prefix}-interval <duration>`,
        `time between the end of one run and the start of the next${dflt(formatDuration(d.intervalMs))}`,
      )
      .option(`--${prefix}-timeout <duration>`, `a run taking longer fails${dflt(formatDuration(d.timeoutMs))}`)
      .option(`--${prefix}-retries <n>`, `failures in a row that make it unhealthy${dflt(d.retries)}`)
      .option(
        `--${prefix}-start-period <duration>`,
        `failures right after the container starts do not count${dflt(formatDuration(d.startPeriodMs))}`,
      )
      .option(
        `--${prefix}-success-threshold <n>`,
        `successes in a row that make it healthy${dflt(d.successThreshold)}`,
      );
  }
  return command;
}

/** `service update`'s flags that remove probes: `--no-healthcheck` (all, as docker's) and `--no-<prefix>`. */
export function addHealthRemovalOptions(command: Command): Command {
  command.option('--no-healthcheck', "remove every probe, and do not use the image's HEALTHCHECK (as docker's)");
  command.option('--image-healthcheck', "use the image's HEALTHCHECK again when the service has no check of its own");
  for (const prefix of Object.keys(PREFIXES) as Prefix[]) {
    const what = prefix === 'health' ? 'the --health-* check' : `the ${prefix} probe`;
    command.option(`--no-${prefix}`, `remove ${what}`);
  }
  return command;
}

type Flags = Record<string, string | undefined>;

/**
 * Builds the health spec from the flags; throws ValidationError naming the flag. With `base` (the
 * current spec, for `service update`), a handler flag replaces that probe's check, timing flags
 * alone retime it, and what no flag names is kept (as `docker service update --health-*`).
 */
export function healthFromFlags(flags: Flags, base: HealthSpec = {}): HealthSpec {
  const health: HealthSpec = base.throttled ? { throttled: base.throttled } : {};
  for (const prefix of Object.keys(PREFIXES) as Prefix[]) {
    const probe = probeFromFlags(prefix, flags, base[PREFIXES[prefix]]);
    if (probe) health[PREFIXES[prefix]] = probe;
  }
  return health;
}

/** `service update`'s health: `base` without the probes `--no-*` remove, then the flags applied. */
export function updatedHealthFromFlags(flags: Record<string, unknown>, base: HealthSpec): HealthSpec {
  const kept: HealthSpec = { ...base };
  for (const prefix of Object.keys(PREFIXES) as Prefix[]) {
    const removal = flags.healthcheck === false ? '--no-healthcheck' : flags[prefix] === false ? `--no-${prefix}` : '';
    if (!removal) continue;
    const given = PROBE_FLAGS.find((name) => typeof flags[camel(`${prefix}-${name}`)] === 'string');
    if (given) {
      const value = flags[camel(`${prefix}-${given}`)];
      throw new ValidationError(`--${prefix}-${given}`, value, `cannot be given with ${removal}, which removes it`);
    }
    delete kept[PREFIXES[prefix]];
  }
  return healthFromFlags(flags as Flags, kept);
}

const TIMING_FLAGS = ['interval', 'timeout', 'retries', 'start-period', 'success-threshold'] as const;
const PROBE_FLAGS = ['http', 'tcp', 'cmd', 'grpc', ...TIMING_FLAGS] as const;

function probeFromFlags(prefix: Prefix, flags: Flags, base: Probe | undefined): Probe | undefined {
  const get = (name: string): string | undefined => flags[camel(`${prefix}-${name}`)];
  const handlers = (['http', 'tcp', 'cmd', 'grpc'] as const).filter((kind) => get(kind) !== undefined);
  const timing = TIMING_FLAGS.filter((name) => get(name) !== undefined);
  if (handlers.length === 0) {
    if (timing.length > 0 && !base) {
      const checks = `--${prefix}-http, --${prefix}-tcp, --${prefix}-cmd or --${prefix}-grpc`;
      throw new ValidationError(`--${prefix}-${timing[0]}`, get(timing[0]!), `needs a check: add ${checks}`);
    }
    if (timing.length === 0) return base;
  }
  if (handlers.length > 1) {
    const already = `--${prefix}-${handlers[0]} is already given`;
    throw new ValidationError(`--${prefix}-${handlers[1]}`, get(handlers[1]!), `only one check per probe: ${already}`);
  }
  const kind = handlers[0];
  const fallback = base ?? PROBE_DEFAULTS;
  const duration = (name: string, value: number): number => {
    const text = get(name);
    return text === undefined ? value : parseDuration(text, `--${prefix}-${name}`);
  };
  const count = (name: string, value: number): number => {
    const text = get(name);
    return text === undefined ? value : parseCount(`--${prefix}-${name}`, text);
  };
  return {
    handler: kind ? parseHandler(kind, `--${prefix}-${kind}`, get(kind)!) : base!.handler,
    intervalMs: duration('interval', fallback.intervalMs),
    timeoutMs: duration('timeout', fallback.timeoutMs),
    retries: count('retries', fallback.retries),
    successThreshold: count('success-threshold', fallback.successThreshold),
    startPeriodMs: duration('start-period', fallback.startPeriodMs),
  };
}

const HANDLER_KEYS = {
  http: ['path', 'port', 'scheme', 'header', 'status'],
  tcp: ['port'],
  grpc: ['port', 'service'],
} as const;

/** `path=/health,port=8080,header=X-A:1,status=200-299` → the handler. */
export function parseHandler(kind: 'http' | 'tcp' | 'cmd' | 'grpc', flag: string, text: string): ProbeHandler {
  if (kind === 'cmd') return { kind: 'exec', command: parseCommand(flag, text) };
  const fields = parseKeyValues(flag, text, { keys: HANDLER_KEYS[kind], repeatable: ['header'] });
  const headers = fields.all('header').map((header) => {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new ValidationError(flag, text, `header=${header}: write it as header=Name:Value`);
    return { name: header.slice(0, colon).trim(), value: header.slice(colon + 1).trim() };
  });
  const portText = fields.get('port');
  if (portText === undefined) throw new ValidationError(flag, text, 'needs port=…');
  if (!/^\d+$/.test(portText)) throw new ValidationError(flag, text, `port=${portText} is not a port number`);
  const port = Number(portText);
  if (kind === 'tcp') return { kind: 'tcp', port };
  if (kind === 'grpc') return { kind: 'grpc', port, service: fields.get('service') ?? '' };
  const scheme = fields.get('scheme') ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') {
    throw new ValidationError(flag, text, `scheme=${scheme}: use http or https`);
  }
  const [statusMin, statusMax] = parseStatus(flag, text, fields.get('status') ?? '200-399');
  return { kind: 'http', path: fields.get('path') ?? '/', port, scheme, headers, statusMin, statusMax };
}

function parseStatus(flag: string, text: string, status: string): [number, number] {
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(status);
  if (!m) throw new ValidationError(flag, text, `status=${status}: write a code (200) or a range (200-299)`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

/** Shell form (`pg_isready -U app` → /bin/sh -c …) or argv form (`["pg_isready","-U","app"]`). */
function parseCommand(flag: string, text: string): string[] {
  if (text.trim().startsWith('[')) {
    let argv: unknown;
    try {
      argv = JSON.parse(text);
    } catch {
      throw new ValidationError(flag, text, 'starts with "[" but is not a JSON array of strings');
    }
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      throw new ValidationError(flag, text, 'the argv form is a non-empty JSON array of strings');
    }
    return argv as string[];
  }
  if (text.trim() === '') throw new ValidationError(flag, text, 'needs a command');
  return ['/bin/sh', '-c', text];
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
