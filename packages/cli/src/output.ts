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

/** `Label:   value` lines, values aligned. */
export function fields(lines: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
}

export function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
