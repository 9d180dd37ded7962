import Table from 'cli-table3';
import { formatAge } from '@warren/core';

/** A borderless, left-aligned table like Docker's listings: columns three spaces apart. */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '   ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  t.push(...rows);
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `3 seconds ago` style, from a time in ms. */
export function ago(at: number, now = Date.now()): string {
  return at > 0 ? `${formatAge(now - at)} ago` : '-';
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** `Label:   value` lines, values aligned; a value of several lines keeps them under its first. */
export function fields(lines: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  const value = (v: string): string => v.split('\n').join(`\n${' '.repeat(width)}`);
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${value(v)}`).join('\n');
}

/** Rows as text columns, each padded to its widest cell, `gap` spaces apart (no header). */
export function columns(rows: readonly string[][], gap = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(' '.repeat(gap))
      .trimEnd(),
  );
}

export function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
