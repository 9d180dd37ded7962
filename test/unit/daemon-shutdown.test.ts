/**
 * A daemon stopped by a signal must end: a timer or socket left behind by a shutdown that
 * completed would keep a stopped daemon running forever (and hang whatever waits for it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ROOT } from '../helpers/cluster.js';

/** A process whose `stop` leaves `leak` behind; resolves with its exit code and log lines. */
async function stopWith(leak: string): Promise<{ code: number | null; lines: Array<Record<string, unknown>> }> {
  const script = `
    import { pino } from 'pino';
    import { runUntilSignal } from '@warren/cli';
    const logger = pino();
    const work = setInterval(() => undefined, 1000);
    await new Promise((resolve) => {
      runUntilSignal(logger, async () => { clearInterval(work); ${leak} }, 15000, 300).then(resolve);
      logger.info('ready');
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: `${ROOT}/packages/cli`,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let signalled = false;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (!signalled && out.includes('"ready"')) signalled = child.kill('SIGTERM');
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines };
}

test('a daemon whose shutdown completed exits 0 on its own', async () => {
  const { code, lines } = await stopWith('');
  assert.equal(code, 0);
  assert.ok(!lines.some((l) => l.msg === 'still running after the shutdown completed: exiting'));
});

test('a daemon held by something its shutdown left behind says what, and exits 1', async () => {
  const { code, lines } = await stopWith('setInterval(() => undefined, 1000);');
  assert.equal(code, 1);
  const line = lines.find((l) => l.msg === 'still running after the shutdown completed: exiting');
  assert.ok(line, JSON.stringify(lines));
  assert.ok((line.resources as string[]).includes('Timeout'));
});
