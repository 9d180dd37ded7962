/**
 * The status page's views of the store (its JSON model is in @warren/status-page): the overview
 * (every service in a line, every node) and one service in detail. Read-only; no credentials,
 * no environment values, nothing the page does not draw.
 */
import {
  describeProbeRun,
  describeResult,
  ingressProblemWords,
  isTerminal,
  probeRuns,
  serviceChecks,
  taskHealth,
  taskReady,
  type Phase,
  type Service,
  type Task,
  type WarrenEvent,
} from '@warren/core';
import type {
  EventView,
  ManagersView,
  NodeSummary,
  Overview,
  ServiceDetail,
  ServiceSummary,
  TaskView,
} from '@warren/status-page';
import { cardsFirst } from '@warren/status-page/cards';
import { endpointTasks, replacementState } from '../ingress/endpoints.js';
import type { IngressTables } from '../ingress/tables.js';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { StoreView } from '../store/store.js';

export interface StatusSources {
  store: StoreView;
  /** Who leads, for the page's managers line. */
  managers?: () => ManagersView;
  sessions: NodeSessions;
  ingress: Pick<IngressTables, 'problems' | 'nodeUp'>;
  now: () => number;
  version: string;
}

/** Ended tasks shown under the live ones on a service's page (its recent replacements). */
const ENDED_SHOWN = 10;

export function overview(src: StatusSources): Overview {
  const { store } = src;
  const services = [...store.services()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
  const nodes = [...store.nodes()].filter((n) => !n.removedAt).sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    now: src.now(),
    version: src.version,
    managers: src.managers?.() ?? { store: 'LevelDB', leader: '', leading: true, message: '' },
    services: services.map((s) => summary(store, s)),
    nodes: nodes.map((n): NodeSummary => {
      const engine = src.sessions.engine(n.id);
      return {
        id: n.id,
        name: n.name,
        status: n.status ?? 'down',
        availability: n.availability ?? 'active',
        address: n.address ?? '',
        lastHeartbeat: src.sessions.lastSeenAt(n.id) ?? n.lastSeenAt,
        tasks: store.liveTasksOnNode(n.id),
        engineOk: engine.ok,
        engineMessage: engine.message,
      };
    }),
  };
}

export function serviceDetail(src: StatusSources, service: Service): ServiceDetail {
  const { store } = src;
  const tasks = store.tasksOfService(service.id);
  const live = tasks.filter((t) => t.desiredState === 'running').sort((a, b) => a.slot - b.slot);
  const ended = tasks
    .filter((t) => t.desiredState !== 'running')
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .slice(0, ENDED_SHOWN);
  const state = replacementState(store, service);
  return {
    now: src.now(),
    summary: summary(store, service),
    checks: checkWords(shownHealth(service.spec, live)),
    endpoints: endpointTasks(store, service, src.ingress.nodeUp).map((t) => ({
      slot: t.slot,
      task: t.id,
      node: store.node(t.nodeId)?.name ?? '',
      address: t.address,
      ports: (t.ports ?? []).map((p) => `${p.target} at ${p.address}`),
    })),
    ingressProblems: src.ingress
      .problems(service)
      .map((p) => ingressProblemWords({ ...p, node: p.nodeName || p.nodeId })),
    slots: state.slots.map((x) => ({
      slot: x.slot,
      failures: x.failures,
      nextAttemptAt: x.nextAttemptAtMs,
      gaveUp: x.gaveUp,
      lastReason: x.lastReason,
    })),
    tasks: [...shownLive(store, live), ...ended.map((t) => taskView(store, t, true))],
  };
}

export function eventView(e: WarrenEvent): EventView {
  return { seq: e.seq, at: e.at, type: e.type, service: e.service, reason: e.reason };
}

function summary(store: StoreView, service: Service): ServiceSummary {
  const spec = service.spec;
  const live = store.tasksOfService(service.id).filter((t) => t.desiredState === 'running');
  const health = { none: 0, starting: 0, healthy: 0, unhealthy: 0, notRunning: 0 };
  let running = 0;
  let ready = 0;
  for (const t of live) {
    const records = store.health(t.id);
    if (t.state !== 'running') {
      health.notRunning++;
      continue;
    }
    running++;
    health[taskHealth(t.spec.health, records)]++;
    if (taskReady(t.spec.health, records, true)) ready++;
  }
  const state = replacementState(store, service);
  const update = service.update;
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    running,
    health,
    ready,
    checks: probeRuns(shownHealth(spec, live)).length > 0,
    replacing: state.replacementsInFlight,
    budget: state.replacementBudget,
    held: state.held,
    correlatedSince: state.correlatedSinceMs,
    update: update
      ? { state: update.state, startedAt: update.startedAt, completedAt: update.completedAt, message: update.message }
      : null,
    ports: spec.ports.map((p) => `${p.published}→${p.target}/${p.protocol}`),
  };
}

function checkWords(health: Service['spec']['health']): ServiceDetail['checks'] {
  const from = health.fromImage ? " (the image's HEALTHCHECK)" : '';
  return probeRuns(health).map((run) => ({ phases: run.phases, words: describeProbeRun(run) + from }));
}

/** A service's checks, or, without its own, those its tasks take from their image's HEALTHCHECK. */
function shownHealth(spec: Service['spec'], live: readonly Task[]): Service['spec']['health'] {
  return serviceChecks(
    spec,
    live.map((t) => t.spec.health),
  );
}

/**
 * Live tasks with their checks' recent runs only for those the page draws as cards (cardsFirst);
 * the rows' runs are left out: with a thousand tasks they were most of the view.
 */
function shownLive(store: StoreView, live: readonly Task[]): TaskView[] {
  const views = live.map((t) => taskView(store, t, false));
  const { cards } = cardsFirst(views);
  const withRuns = new Set(cards.map((v) => v.id));
  return live.map((t, i) => (withRuns.has(t.id) ? taskView(store, t, true) : views[i]!));
}

function taskView(store: StoreView, t: Task, runs: boolean): TaskView {
  const records = store.health(t.id);
  const running = t.state === 'running' && t.desiredState === 'running';
  return {
    id: t.id,
    slot: t.slot,
    node: store.node(t.nodeId)?.name ?? '',
    image: t.spec.image,
    state: t.state,
    desiredState: t.desiredState,
    // An ended task keeps the health it ended with (a task failed by liveness shows unhealthy).
    health: taskHealth(t.spec.health, records),
    ready: taskReady(t.spec.health, records, running),
    message: t.message,
    error: t.error,
    updatedAt: t.updatedAt,
    checks: probeRuns(t.spec.health).map((run) => {
      // A `--health-*` check feeds liveness and readiness the same results: they are drawn once.
      const first = records[run.phases[0] as Phase];
      return {
        phases: run.phases,
        statuses: run.phases.map((phase) => ({ phase, status: records[phase]?.status ?? 'starting' })),
        results: (runs ? (first?.results ?? []) : []).map((r) => ({
          at: r.at,
          durationMs: r.durationMs,
          outcome: r.outcome,
          detail: describeResult(run.probe.handler.kind, r),
          counted: r.counted,
        })),
      };
    }),
  };
}
