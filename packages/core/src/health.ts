import type { HealthSpec, Probe, ServiceSpec } from './spec.js';
import { THROTTLED_PERCENT, throttleWords } from './throttle.js';

/**
 * The health contract of DESIGN.md section 2, pure. The worker runs it as results come in; the
 * manager stores what it says and acts on its transitions.
 */

export const PHASES = ['startup', 'liveness', 'readiness'] as const;
export type Phase = (typeof PHASES)[number];
export type PhaseStatus = 'starting' | 'healthy' | 'unhealthy';
export type Outcome = 'success' | 'failure' | 'unknown';
/** A task's health as shown to users. */
export type TaskHealth = 'none' | PhaseStatus;

export interface ProbeResult {
  /** When the run started (ms since epoch). */
  at: number;
  durationMs: number;
  outcome: Outcome;
  /** HTTP status, exit code, or gRPC serving status number. */
  code?: number;
  /** Exec output, HTTP body excerpt, or what went wrong, in words. */
  output: string;
  /** False for unknown outcomes, for failures inside the start period, and tolerated throttled ones. */
  counted: boolean;
  /** Of the run's CPU periods, the share (0-100) its container was CPU-throttled; read only under a limit. */
  throttledPercent?: number;
  /** The container's CPU limit during the run, with `throttledPercent`. */
  limitNanoCpus?: number;
}

export interface PhaseState {
  status: PhaseStatus;
  successStreak: number;
  failureStreak: number;
  /** A success ends the start period for good. */
  everSucceeded: boolean;
  lastTransitionAt: number;
  /** The status before the last transition ('' before any). */
  lastTransitionFrom: PhaseStatus | '';
}

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}

export function isPhaseStatus(value: string): value is PhaseStatus {
  return value === 'starting' || value === 'healthy' || value === 'unhealthy';
}

export function initialPhaseState(now: number): PhaseState {
  return {
    status: 'starting',
    successStreak: 0,
    failureStreak: 0,
    everSucceeded: false,
    lastTransitionAt: now,
    lastTransitionFrom: '',
  };
}

export interface Applied {
  state: PhaseState;
  /** The result as recorded (with `counted` set). */
  result: ProbeResult;
  /** Set when the status changed. */
  transition?: { from: PhaseStatus; to: PhaseStatus };
}

/**
 * One result applied to a phase (rules 2 and 3):
 * - `unknown` is recorded, never counted, and leaves the streaks alone
 * - while the container is younger than `startPeriodMs` and nothing has succeeded yet,
 *   failures are recorded but not counted
 * - `retries` counted failures in a row turn the phase unhealthy; `successThreshold` successes
 *   in a row turn it healthy
 */
export function applyResult(
  state: PhaseState,
  probe: Pick<Probe, 'retries' | 'successThreshold' | 'startPeriodMs'>,
  containerStartedAt: number,
  raw: Omit<ProbeResult, 'counted'>,
): Applied {
  if (raw.outcome === 'unknown') return { state, result: { ...raw, counted: false } };
  if (raw.outcome === 'success') {
    const successStreak = state.successStreak + 1;
    const next: PhaseState = { ...state, successStreak, failureStreak: 0, everSucceeded: true };
    return settle(
      state,
      next,
      successStreak >= probe.successThreshold ? 'healthy' : undefined,
      { ...raw, counted: true },
      raw.at,
    );
  }
  const inStartPeriod = !state.everSucceeded && raw.at - containerStartedAt < probe.startPeriodMs;
  if (inStartPeriod) return { state, result: { ...raw, counted: false } };
  const failureStreak = state.failureStreak + 1;
  const next: PhaseState = { ...state, failureStreak, successStreak: 0 };
  return settle(
    state,
    next,
    failureStreak >= probe.retries ? 'unhealthy' : undefined,
    { ...raw, counted: true },
    raw.at,
  );
}

function settle(
  before: PhaseState,
  next: PhaseState,
  to: PhaseStatus | undefined,
  result: ProbeResult,
  at: number,
): Applied {
  if (to === undefined || to === before.status) return { state: next, result };
  return {
    state: { ...next, status: to, lastTransitionAt: at, lastTransitionFrom: before.status },
    result,
    transition: { from: before.status, to },
  };
}

/** A probe to run and the phases its results feed. */
export interface ProbeRun {
  /** `startup`, `liveness`, `readiness`, or `check` for the Docker-style check feeding both. */
  name: Phase | 'check';
  probe: Probe;
  phases: Phase[];
}

/**
 * What runs for a health spec (rule 7): `--health-*` is one check feeding liveness and
 * readiness, run once per interval; an explicit `--liveness-*` or `--readiness-*` wins over it
 * for its phase.
 */
export function probeRuns(health: HealthSpec): ProbeRun[] {
  const runs: ProbeRun[] = [];
  if (health.startup) runs.push({ name: 'startup', probe: health.startup, phases: ['startup'] });
  const liveness = health.liveness ?? health.check;
  const readiness = health.readiness ?? health.check;
  if (liveness && liveness === readiness)
    runs.push({ name: 'check', probe: liveness, phases: ['liveness', 'readiness'] });
  else {
    if (liveness) runs.push({ name: health.liveness ? 'liveness' : 'check', probe: liveness, phases: ['liveness'] });
    if (readiness)
      runs.push({ name: health.readiness ? 'readiness' : 'check', probe: readiness, phases: ['readiness'] });
  }
  return runs;
}

/**
 * The checks a service runs: its own; without them (and without --no-healthcheck), those its
 * tasks took from their image's HEALTHCHECK (the first such task's); none otherwise.
 */
export function serviceChecks(
  spec: Pick<ServiceSpec, 'health' | 'noHealthcheck'>,
  taskChecks: Iterable<HealthSpec>,
): HealthSpec {
  if (probeRuns(spec.health).length > 0 || spec.noHealthcheck) return spec.health;
  for (const health of taskChecks) if (health.fromImage) return health;
  return spec.health;
}

/** The phases a spec has. */
export function specPhases(health: HealthSpec): Phase[] {
  return [...new Set(probeRuns(health).flatMap((r) => r.phases))];
}

export type PhaseStates = Partial<Record<Phase, PhaseState>>;

/** What the manager keeps per task and phase: the state and the newest results. */
export interface PhaseRecord extends PhaseState {
  results: ProbeResult[];
}

export type TaskHealthRecords = Partial<Record<Phase, PhaseRecord>>;

/** Results kept per task and phase. */
export const RESULTS_KEPT = 10;

/**
 * A task's health as users see it (rule 8): `none` without probes; while a startup probe has
 * not passed, its status; then liveness, else readiness.
 */
export function taskHealth(health: HealthSpec, states: PhaseStates): TaskHealth {
  const phases = specPhases(health);
  if (phases.length === 0) return 'none';
  const status = (phase: Phase): PhaseStatus => states[phase]?.status ?? 'starting';
  if (phases.includes('startup') && status('startup') !== 'healthy') return status('startup');
  if (phases.includes('liveness')) return status('liveness');
  if (phases.includes('readiness')) return status('readiness');
  return status('startup');
}

/**
 * Whether a running task belongs in the endpoints (rule 6): its readiness has turned healthy,
 * or it has no readiness probe (and its startup probe, if any, has passed).
 */
export function taskReady(health: HealthSpec, states: PhaseStates, running: boolean): boolean {
  if (!running) return false;
  const phases = specPhases(health);
  if (phases.includes('startup') && states.startup?.status !== 'healthy') return false;
  if (phases.includes('readiness')) return states.readiness?.status === 'healthy';
  return true;
}

/** The failure reason of a task failed by a phase: `liveness probe failed: HTTP 500`. */
export function probeFailureReason(phase: Phase, kind: ProbeKind, last: ProbeResult | undefined): string {
  return `${phase} probe failed: ${last ? describeResult(kind, last) : 'no result'}`;
}

export type ProbeKind = Probe['handler']['kind'];

/** A result in a few words: `HTTP 500`, `exit code 1: not ready`, `timed out after 1s`. */
export function describeResult(kind: ProbeKind, result: ProbeResult): string {
  const firstLine =
    result.output
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim()
      .slice(0, 120) ?? '';
  const base =
    result.code !== undefined && kind === 'http'
      ? `HTTP ${result.code}`
      : result.code !== undefined && kind === 'exec'
        ? firstLine
          ? `exit code ${result.code}: ${firstLine}`
          : `exit code ${result.code}`
        : firstLine || result.outcome;
  if (result.outcome === 'success' || !result.throttledPercent || !result.limitNanoCpus) return base;
  const forgiven = result.outcome === 'unknown' && result.throttledPercent >= THROTTLED_PERCENT ? ': not counted' : '';
  return `${base}; ${throttleWords(result.throttledPercent, result.limitNanoCpus)}${forgiven}`;
}

/** Deterministic offset in [0, intervalMs) for a task's first run after a worker restart. */
export function spreadOffset(key: string, intervalMs: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % Math.max(1, intervalMs);
}

/**
 * What the reconciler needs of a task's health: its status, whether startup or liveness has
 * turned unhealthy (with the reason and since when), since when it has been healthy, and whether
 * it has been healthy at all since it started (the phase that decides its health once started has
 * been healthy: it is, or its last transition was from healthy).
 */
export function taskHealthView(health: HealthSpec, records: TaskHealthRecords): TaskHealthSummary {
  const status = taskHealth(health, records);
  const phases = specPhases(health);
  const steady = (['liveness', 'readiness', 'startup'] as const).find((p) => phases.includes(p));
  const steadyRecord = steady ? records[steady] : undefined;
  const wasHealthy = steadyRecord?.status === 'healthy' || steadyRecord?.lastTransitionFrom === 'healthy';
  const runs = probeRuns(health);
  for (const phase of ['startup', 'liveness'] as const) {
    const record = records[phase];
    if (record?.status !== 'unhealthy') continue;
    const kind = runs.find((r) => r.phases.includes(phase))!.probe.handler.kind;
    const lastCounted = [...record.results].reverse().find((r) => r.counted && r.outcome === 'failure');
    const failing = { phase, reason: probeFailureReason(phase, kind, lastCounted), since: record.lastTransitionAt };
    return { status, failing, wasHealthy };
  }
  const deciding = records.liveness ?? records.startup ?? records.readiness;
  return status === 'healthy' && deciding
    ? { status, healthySince: deciding.lastTransitionAt, wasHealthy }
    : { status, wasHealthy };
}

export interface TaskHealthSummary {
  status: TaskHealth;
  failing?: { phase: Phase; reason: string; since: number };
  healthySince?: number;
  wasHealthy: boolean;
}
