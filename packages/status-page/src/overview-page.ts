/** `/`: every service with its health in a line, every node, and the events as they come. */
import { html } from 'htm/preact/standalone';
import { Events, Header, Table, VerdictBadge, serviceHref } from './common.js';
import { ago, healthText, replacingText, updateText, verdict, type Verdict } from './format.js';
import { useNow, useStream } from './live.js';
import type { ManagersView, NodeSummary, Overview, ServiceSummary } from './model.js';

const SERVICE_COLUMNS = ['Service', 'State', 'Health', 'Ready', 'Replacing for health', 'Update', 'Ports'];
const NODE_COLUMNS = ['Node', 'Status', 'Availability', 'Docker engine', 'Address', 'Tasks', 'Last heartbeat'];

export function OverviewPage() {
  const live = useStream<Overview>('');
  const now = useNow(live.skew);
  const view = live.view;
  return html`
    <${Header} connection=${live.connection} version=${view?.version ?? ''} />
    <main id="main">
      <h1>Cluster status</h1>
      ${
        view
          ? html`<${Managers} managers=${view.managers} />
              <${Totals} services=${view.services} nodes=${view.nodes} />
              <${Services} services=${view.services} now=${now} />
              <${Nodes} nodes=${view.nodes} now=${now} />`
          : html`<p>Connecting to the manager…</p>`
      }
      <${Events} events=${live.events} now=${now} withService=${true} />
    </main>
  `;
}

/** Which manager leads; with none, why (no quorum), as an alert: nothing is decided meanwhile. */
function Managers({ managers: m }: { managers: ManagersView }) {
  if (m.store === 'LevelDB') return null;
  if (!m.leader) {
    return html`<p class="alert" role="alert" data-testid="managers">
      <strong>No manager leads:</strong> ${m.message || 'an election is under way'}. Nothing is decided meanwhile;
      tasks keep running.
    </p>`;
  }
  const who = m.leading ? `this manager (${m.leader}) leads` : `this manager follows ${m.leader}`;
  return html`<p class="muted" data-testid="managers">Managers on etcd: ${who}.</p>`;
}

function Totals({ services, nodes }: { services: ServiceSummary[]; nodes: NodeSummary[] }) {
  const count = (v: Verdict) => services.filter((s) => verdict(s) === v).length;
  const ready = nodes.filter((n) => n.status === 'ready').length;
  const text =
    `${services.length} service${services.length === 1 ? '' : 's'}: ` +
    `${count('ok')} ok, ${count('degraded')} degraded, ${count('failing')} failing · ` +
    `${ready}/${nodes.length} node${nodes.length === 1 ? '' : 's'} ready`;
  return html`<p class="totals" data-testid="totals">${text}</p>`;
}

function Services({ services, now }: { services: ServiceSummary[]; now: number }) {
  return html`<section aria-labelledby="services-h">
    <h2 id="services-h">Services</h2>
    ${
      services.length === 0
        ? html`<p class="muted">No services. Create one: <code>npx warren service create NAME --image IMAGE</code></p>`
        : html`<${Table} testid="services" labelledBy="services-h" headers=${SERVICE_COLUMNS}>
                ${services.map((s) => html`<${ServiceRow} key=${s.name} s=${s} now=${now} />`)}
              </${Table}>`
    }
  </section>`;
}

function ServiceRow({ s, now }: { s: ServiceSummary; now: number }) {
  return html`<tr data-service=${s.name}>
    <th scope="row">
      <a href=${serviceHref(s.name)}>${s.name}</a>
      <div class="muted small">${s.image}</div>
    </th>
    <td><${VerdictBadge} verdict=${verdict(s)} /></td>
    <td>
      <span data-testid="health">${healthText(s)}</span>
      ${
        s.correlatedSince > 0
          ? html`<div class="warn" data-testid="correlated">
              <span aria-hidden="true">⚠ </span>Tasks are failing together since ${ago(s.correlatedSince, now)}: a
              shared dependency may be down. Replacements are held back so healthy capacity is not killed.
            </div>`
          : ''
      }
    </td>
    <td>${s.ready}/${s.replicas}</td>
    <td>${replacingText(s)}</td>
    <td>${updateText(s, now) || html`<span class="muted">none</span>`}</td>
    <td>${s.ports.length > 0 ? s.ports.join(', ') : html`<span class="muted">none</span>`}</td>
  </tr>`;
}

function Nodes({ nodes, now }: { nodes: NodeSummary[]; now: number }) {
  return html`<section aria-labelledby="nodes-h">
    <h2 id="nodes-h">Nodes</h2>
    ${
      nodes.length === 0
        ? html`<p class="muted">No node has joined.</p>`
        : html`<${Table} testid="nodes" labelledBy="nodes-h" headers=${NODE_COLUMNS}>
                ${nodes.map(
                  (n) =>
                    html`<tr key=${n.id} data-node=${n.name}>
                      <th scope="row">${n.name}</th>
                      <td>
                        <span class="badge ${n.status === 'ready' ? 'v-ok' : 'v-failing'}"
                          ><span aria-hidden="true">${n.status === 'ready' ? '✓ ' : '✗ '}</span>${n.status}</span
                        >
                      </td>
                      <td>${n.availability}</td>
                      <td>
                        ${n.engineOk ? 'ok' : html`<span class="warn">✗ ${n.engineMessage || 'not reachable'}</span>`}
                      </td>
                      <td>${n.address || '-'}</td>
                      <td>${n.tasks}</td>
                      <td>${ago(n.lastHeartbeat, now)}</td>
                    </tr>`,
                )}
              </${Table}>`
    }
  </section>`;
}
