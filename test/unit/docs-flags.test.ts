/** The docs and the CLI agree: every flag `warren` defines is documented in docs/, and docs/ names no flag it lacks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { warrenProgram } from '@warren/cli';

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
const FLAG = /(?<![\w-])--[a-z][a-z0-9-]*/g;

function cliFlags(): Set<string> {
  const flags = new Set<string>();
  const walk = (cmd: Command): void => {
    for (const o of cmd.options) if (o.long) flags.add(o.long);
    cmd.commands.forEach(walk);
  };
  walk(warrenProgram());
  return flags;
}

const docs = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ file: f, text: readFileSync(DOCS + f, 'utf8') }));

test('every flag the CLI defines is documented in docs/', () => {
  const all = docs.map((d) => d.text).join('\n');
  const missing = [...cliFlags()].filter((flag) => !new RegExp(`${flag}(?![a-z0-9-])`).test(all));
  assert.ok(cliFlags().size > 100, 'the CLI has its flags');
  assert.deepEqual(missing, [], 'flags not named anywhere in docs/');
});

test('docs/ names no warren flag the CLI lacks', () => {
  const flags = cliFlags();
  const unknown: string[] = [];
  for (const { file, text } of docs) {
    let fenced = false;
    let continued = false;
    text.split('\n').forEach((line, i) => {
      if (line.startsWith('```')) fenced = !fenced;
      // A line that runs or shows `warren …` (and, in a code block, the indented lines that go on
      // with it): its flags are warren's; docker's and etcd's are named on lines of their own.
      const warren = /\bwarren [a-z-]/.test(line) || (fenced && continued && /^\s+\S/.test(line));
      continued = warren;
      if (!warren) return;
      for (const [flag] of line.matchAll(FLAG)) {
        // `--update-*`: a family, each of its flags named elsewhere.
        if (!flag.endsWith('-') && !flags.has(flag)) unknown.push(`${file}:${i + 1} ${flag}`);
      }
    });
  }
  assert.deepEqual(unknown, []);
});
