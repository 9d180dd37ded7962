/** The status page's entry: `/` is the overview, `/services/NAME` one service. */
import { html, render } from 'htm/preact/standalone';
import { OverviewPage } from './overview-page.js';
import { ServicePage } from './service-page.js';

const app = document.getElementById('app')!;
app.textContent = '';
const match = /^\/services\/([^/]+)$/.exec(location.pathname);
if (match) {
  const name = decodeURIComponent(match[1]!);
  document.title = `${name} · Warren status`;
  render(html`<${ServicePage} name=${name} />`, app);
} else render(html`<${OverviewPage} />`, app);
