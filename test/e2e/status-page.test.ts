/**
 * The status page (issue 14) in a real headless browser (Debian's chromium through
 * playwright-core) against a real manager, worker and containers: a service appears without a
 * reload, a replica whose check breaks shows unhealthy and is then replaced, all live; the page
 * is keyboard navigable and reflows at 200% zoom; it is served to loopback names only.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { Cluster, waitFor } from '../helpers/cluster.js';
import { launchBrowser, screenshotPath } from '../helpers/browser.js';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser?.close());

/** The texts an element matching `selector` showed, recorded in the page as they change. */
async function recordTexts(page: Page, selector: string): Promise<void> {
  await page.evaluate((sel) => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const look = (): void => {
      const text = document.querySelector(sel)?.textContent ?? '';
      if (seen.at(-1) !== text) seen.push(text);
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
    look();
  }, selector);
}

test('a service appears, a replica whose check breaks shows unhealthy and is replaced, without a reload', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  const base = `http://${c.managerHttp}`;

  const overview = await browser.newPage();
  t.after(() => overview.close());
  await overview.goto(`${base}/`);
  await overview.getByText('No services').waitFor({ timeout: 30_000 });
  // A reload would lose this.
  await overview.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

  await c.ok(
    'service',
    'create',
    'web',
    '--image',
    'warren-test:latest',
    '--replicas',
    '3',
    '--health-cmd',
    'test ! -f /tmp/broken',
    '--health-interval',
    '300ms',
    '--health-retries',
    '2',
    '--stop-timeout',
    '1s',
    '--',
    'sleep',
    '100000',
  );
  const row = overview.locator('tr[data-service="web"]');
  await row.locator('[data-testid="health"]', { hasText: '3/3 healthy' }).waitFor({ timeout: 60_000 });
  assert.match((await row.textContent()) ?? '', /ok/);
  assert.match((await overview.locator('[data-testid="nodes"]').textContent()) ?? '', new RegExp(c.nodeName('w1')));
  await recordTexts(overview, 'tr[data-service="web"] [data-testid="health"]');

  const detail = await browser.newPage();
  t.after(() => detail.close());
  await detail.goto(`${base}/services/web`);
  await detail.locator('[data-testid="tasks"] article').nth(2).waitFor({ timeout: 30_000 });
  await waitFor(
    'three healthy task cards',
    async () => (await detail.locator('[data-testid="tasks"] .badge.h-healthy').count()) === 3,
    30_000,
    100,
  );
  assert.match((await detail.locator('[data-testid="checks"]').textContent()) ?? '', /exec .*test ! -f \/tmp\/broken/);
  assert.equal(await detail.locator('[data-testid="endpoints"] tbody tr').count(), 3, 'three endpoints');
  await detail.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

  // Break slot 2's check.
  const [broken] = (await c.live('web')).filter((x) => x.slot === 2);
  await c.exec(broken!.containerId, ['touch', '/tmp/broken']);

  // The service page shows that task unhealthy (failed by its liveness check), then a new task in slot 2, healthy.
  const old = detail.locator(`article[data-task="${broken!.id}"]`);
  await old.locator('.badge.h-unhealthy').waitFor({ timeout: 60_000 });
  await old.getByText('liveness probe failed').waitFor({ timeout: 60_000 });
  assert.equal(await old.locator('..').getAttribute('data-testid'), 'ended', 'the failed task is listed as ended');
  const replacement = detail.locator('[data-testid="tasks"] article[data-slot="2"]');
  await waitFor(
    'a healthy replacement in slot 2',
    async () =>
      (await replacement.getAttribute('data-task')) !== broken!.id &&
      (await replacement.locator('.badge.h-healthy').count()) === 1,
    60_000,
    100,
  );
  await detail.locator('[data-testid="events"]', { hasText: `replaces ${broken!.id}` }).waitFor({ timeout: 30_000 });

  // The overview went below 3/3 healthy and came back, live.
  await row.locator('[data-testid="health"]', { hasText: '3/3 healthy' }).waitFor({ timeout: 60_000 });
  await waitFor(
    'the overview to be back at 3/3',
    async () =>
      ((await overview.evaluate(() => (window as unknown as { seen: string[] }).seen)).at(-1) ?? '') === '3/3 healthy',
    30_000,
    100,
  );
  const seen = await overview.evaluate(() => (window as unknown as { seen: string[] }).seen);
  assert.ok(
    seen.some((s) => /^2\/3 healthy/.test(s)),
    `the overview showed fewer than 3 healthy: ${seen.join(' | ')}`,
  );
  for (const page of [overview, detail]) {
    assert.equal(
      await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce),
      true,
      'no reload',
    );
  }

  const shot = await screenshotPath('status-page-service');
  await detail.screenshot({ path: shot, fullPage: true });
  t.diagnostic(`screenshot: ${shot}`);
  await overview.screenshot({ path: await screenshotPath('status-page-overview'), fullPage: true });
});

test('the page is keyboard navigable, reflows at 200% zoom, and says nothing it should not', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  await c.ok(
    'service',
    'create',
    'api',
    '--image',
    'warren-test:latest',
    '--env',
    'SECRET_TOKEN=hunter2',
    '--health-tcp',
    'port=1',
    '--health-interval',
    '1s',
    '--',
    'sleep',
    '100000',
  );
  // The first state, before (or without) the stream: `connecting…`, not an error, and the recent
  // events from the first view. Here the stream never opens: no SharedWorker, an EventSource that
  // never connects.
  const first = await browser.newPage();
  t.after(() => first.close());
  await first.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    delete w.SharedWorker;
    w.EventSource = class {
      addEventListener(): void {}
      close(): void {}
    };
  });
  await first.goto(`http://${c.managerHttp}/`);
  await first.locator('tr[data-service="api"]').waitFor({ timeout: 30_000 });
  await first.locator('[data-testid="events"] li', { hasText: 'api' }).first().waitFor({ timeout: 30_000 });
  const status = (await first.locator('header [role="status"]').textContent()) ?? '';
  assert.match(status, /connecting…/);
  assert.doesNotMatch(status, /reconnecting/);
  assert.equal(await first.getByText('No events yet.').count(), 0);
  await first.screenshot({ path: await screenshotPath('first-view') });

  // A 1280-pixel screen at 200%: 640 CSS pixels wide.
  const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
  t.after(() => page.close());
  await page.goto(`http://${c.managerHttp}/`);
  await page.locator('tr[data-service="api"]').waitFor({ timeout: 30_000 });
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `no horizontal scrolling of the page at 640 px (${overflow} px too wide)`);

  // Tab to the service's link and follow it with Enter.
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'api'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.textContent?.trim() ?? '');
  }
  assert.equal(focused, 'api', 'the service link is reachable by keyboard');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/services\/api$/, { timeout: 30_000 });
  await page.locator('[data-testid="checks"]').waitFor({ timeout: 30_000 });
  assert.match((await page.locator('[data-testid="checks"]').textContent()) ?? '', /TCP connect to port 1/);
  // Health is said in words and a symbol, not only a colour.
  await page
    .locator('[data-testid="tasks"] .badge', { hasText: /starting|unhealthy/ })
    .first()
    .waitFor({ timeout: 30_000 });
  const content = await page.content();
  assert.ok(!content.includes('hunter2'), 'no environment value is shown');
  assert.equal(
    await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    0,
    'the service page reflows at 640 px too',
  );
});

test("a browser's tabs share one stream, so more than six stay live", async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  await c.startWorker('w1');
  for (const name of ['a', 'b']) {
    await c.ok(
      'service',
      'create',
      name,
      '--image',
      'warren-test:latest',
      '--stop-timeout',
      '1s',
      '--',
      'sleep',
      '100000',
    );
  }
  const context = await browser.newContext();
  t.after(() => context.close());
  const tabs: Page[] = [];
  for (let i = 0; i < 8; i++) {
    const tab = await context.newPage();
    await tab.goto(`http://${c.managerHttp}/${i % 2 === 0 ? '' : `services/${i % 4 === 1 ? 'a' : 'b'}`}`);
    tabs.push(tab);
  }
  for (const tab of tabs) {
    await tab.locator('tr[data-service="b"], [data-testid="summary"]').first().waitFor({ timeout: 30_000 });
  }
  await waitFor(
    'one stream for the eight tabs',
    async () => (await metric(c, 'warren_status_streams_open')) === 1,
    30_000,
    200,
  );
  // Live still: a change reaches every tab.
  await c.ok('service', 'scale', 'b=2');
  // Every tab showing b (the overviews and b's pages) shows the new count.
  for (const [i, tab] of tabs.entries()) {
    if (i % 4 === 1) continue; // a's pages
    await tab.locator('[data-testid="health"]', { hasText: '/2 running' }).first().waitFor({ timeout: 30_000 });
  }
  for (const tab of tabs) await tab.close();
  await waitFor(
    'the stream closed with the last tab',
    async () => (await metric(c, 'warren_status_streams_open')) === 0,
    60_000,
    200,
  );
});

async function metric(c: Cluster, name: string): Promise<number> {
  const text = (await get(c.managerHttp, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** GET `path` from the manager's HTTP port with `headers`; the status and body. */
function get(
  address: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${address}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        const at = body.indexOf('event: ');
        if (res.headers['content-type']?.startsWith('text/event-stream') && at >= 0 && body.includes('\n\n', at)) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the status page answers loopback names only, refuses bad names, and streams a service that does not exist as gone', async (t) => {
  const c = await Cluster.create();
  t.after(() => c.destroy());
  const rebinding = await get(c.managerHttp, '/', { host: 'attacker.example:7421' });
  assert.equal(rebinding.status, 403);
  assert.match(rebinding.body, /loopback host name/);
  assert.equal((await get(c.managerHttp, '/', { host: 'localhost:7421' })).status, 200);
  const page = await get(c.managerHttp, '/');
  assert.match(page.body, /<script type="importmap">/);

  assert.equal((await get(c.managerHttp, '/api/v1/services/nope')).status, 404);
  const bad = await get(c.managerHttp, '/api/v1/stream?service=..%2Fetc');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /not a valid service name/);
  assert.equal(
    (await get(c.managerHttp, '/api/v1/services/%E0%A4%A')).status,
    400,
    'a malformed escape is a bad name',
  );
  const gone = await get(c.managerHttp, '/api/v1/stream?service=nope');
  assert.equal(gone.status, 200);
  assert.match(gone.body, /event: gone\ndata: "nope"/);
  assert.equal((await get(c.managerHttp, '/ui/nothing.js')).status, 404);
  // The daemon's own endpoints are as they were.
  assert.equal((await get(c.managerHttp, '/health')).status, 200);
  // The manager is still up and well after all that.
  assert.match((await get(c.managerHttp, '/api/v1/overview')).body, /"services":\[\]/);
});
