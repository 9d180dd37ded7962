import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = fileURLToPath(new URL('../../../packages', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

// Prettier (npm run format) wraps code at 119 columns; strings and comments it cannot wrap are
// kept short by hand. Files of one concept stay small enough to read at once.
test('product source lines stay under 120 characters and files under 300 lines', () => {
  const files = readdirSync(PACKAGES).flatMap((pkg) => sources(join(PACKAGES, pkg, 'src')));
  assert.ok(files.length > 50, `found the sources (${files.length})`);
  const long: string[] = [];
  const big: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines.length > 300) big.push(`${file} (${lines.length} lines)`);
    lines.forEach((line, i) => {
      if (line.length >= 120) long.push(`${file}:${i + 1} (${line.length})`);
    });
  }
  assert.deepEqual(long, [], 'lines of 120 characters or more');
  assert.deepEqual(big, [], 'files over 300 lines');
});
