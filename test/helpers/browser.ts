/**
 * A real headless browser for the status page's tests and bench: Debian's chromium (installed by
 * scripts/setup), driven by playwright-core. `WARREN_CHROMIUM` names another binary.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './cluster.js';

export const CHROMIUM = process.env.WARREN_CHROMIUM ?? '/usr/bin/chromium';

/** Where tests leave screenshots: `test-results/` at the repository root (not committed). */
export const RESULTS_DIR = join(ROOT, 'test-results');

export async function launchBrowser(): Promise<Browser> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`no browser at ${CHROMIUM}: scripts/setup installs Debian's chromium (or set WARREN_CHROMIUM)`);
  });
  return chromium.launch({
    executablePath: CHROMIUM,
    // As root in a container: no sandbox; no GPU; /dev/shm may be small; nothing from the internet.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
    timeout: 60_000,
  });
}

/** A path for a screenshot named `name` in RESULTS_DIR (made if missing). */
export async function screenshotPath(name: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  return join(RESULTS_DIR, `${name}.png`);
}
