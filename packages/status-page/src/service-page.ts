/** `/services/NAME`: one service: its checks in words, ports and endpoints, every task's runs. */
import { html } from 'htm/preact/standalone';
import { Events, Header, Table, VerdictBadge } from './common.js';
import { ago, healthText, replacingText, updateText, verdict } from './format.js';
import { useNow, useStream } from './live.js';
import type { ServiceDetail } from './model.js';
import { Tasks } from './tasks.js';

const ENDPOINT_COLUMNS = ['Slot', 'Task', 'Node', 'Address', 'Published targets'];

export function ServicePage({ name }: { name: string }) {
  const live = useStream<ServiceDetail>(name);
  const now = useNow(live.skew);
  const d = live.view;
  return html`
    <${Header} connection=${live.connection} version="" />
    <main id="main">
      <p><a href="/">← All services</a></p>
      <h1>Service ${name}</h1>
      ${
        live.gone
          ? html`<p class="warn" data-testid="gone">There is no service ${name} (now).</p>`
          : d
            ? html`<${Summary} d=${d} now=${now} />
                <${Checks} d=${d} />
                <${Endpoints} d=${d} />
                <${Tasks} tasks=${d.tasks} now=${now} />`
            : html`<p>Connecting to the manager…</p>`
      }
      <${Events} events=${live.events} now=${now} withService=${false} />
    </main>
  `;
}

function Summary({ d, now }: { d: ServiceDetail; now: number }) {
  const s = d.summary;
  return html`<section aria-label="Summary">
    <dl class="facts" data-testid="summary">
      <dt>State</dt>
      <dd><${VerdictBadge} verdict=${verdict(s)} /></dd>
      <dt>Health</dt>
      <dd data-testid="health">${healthText(s)} (${s.ready} ready)</dd>
      <dt>Image</dt>
      <dd><code>${s.image}</code></dd>
      <dt>Replacing for health</dt>
      <dd>${replacingText(s)}</dd>
      <dt>Update</dt>
      <dd>${updateText(s, now) || 'none'}</dd>
    </dl>
    ${
      s.correlatedSince > 0
        ? html`<p class="warn" data-testid="correlated">
            <span aria-hidden="true">⚠ </span>${s.held + s.replacing} of ${s.replicas} tasks are failing their checks
            together since ${ago(s.correlatedSince, now)}: a shared dependency may be down. ${s.held} replacement(s)
            held back so healthy capacity is not killed.
          </p>`
        : ''
    }
    ${
      d.slots.length > 0
        ? html`<ul class="warn">
            ${d.slots.map(
              (x) =>
                html`<li key=${x.slot}>
                  Slot ${x.slot}: ${x.failures} failure${x.failures === 1 ? '' : 's'} in a row
                  (${x.lastReason})${
                    x.gaveUp
                      ? '; gave up'
                      : x.nextAttemptAt > now
                        ? `; next attempt in ${ago(now, x.nextAttemptAt).replace(' ago', '')}`
                        : ''
                  }
                </li>`,
            )}
          </ul>`
        : ''
    }
  </section>`;
}

function Checks({ d }: { d: ServiceDetail }) {
  return html`<section aria-labelledby="checks-h">
    <h2 id="checks-h">Checks</h2>
    ${
      d.checks.length === 0
        ? html`<p class="muted">No health checks: a task is ready once it runs.</p>`
        : html`<ul data-testid="checks">
            ${d.checks.map((c) => {
              const phases = c.phases.join(' + ');
              return html`<li key=${phases}><strong>${phases}</strong>${`: ${c.words}`}</li>`;
            })}
          </ul>`
    }
  </section>`;
}

function Endpoints({ d }: { d: ServiceDetail }) {
  return html`<section aria-labelledby="endpoints-h">
    <h2 id="endpoints-h">Published ports and endpoints</h2>
    <p>Published: ${d.summary.ports.length > 0 ? d.summary.ports.join(', ') : 'none'}</p>
    ${
      d.ingressProblems.length > 0
        ? html`<ul class="warn">
            ${d.ingressProblems.map((p) => html`<li key=${p}>✗ ${p}</li>`)}
          </ul>`
        : ''
    }
    ${
      d.endpoints.length === 0
        ? html`<p class="warn">No endpoint is ready: nothing receives traffic.</p>`
        : html`<${Table} testid="endpoints" labelledBy="endpoints-h" headers=${ENDPOINT_COLUMNS}>
                ${d.endpoints.map(
                  (e) =>
                    html`<tr key=${e.task}>
                      <td>${e.slot}</td>
                      <td><code>${e.task.slice(0, 12)}</code></td>
                      <td>${e.node}</td>
                      <td>${e.address}</td>
                      <td>${e.ports.join(', ') || '-'}</td>
                    </tr>`,
                )}
              </${Table}>`
    }
  </section>`;
}
