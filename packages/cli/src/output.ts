import { formatAge } from '@warren/core';

/**
 * A borderless, left-aligned table like Docker's listings: a header, columns three spaces apart,
 * no trailing spaces. (cli-table3 drew these until issue 19: 50 ms for 100 rows, most of a
 * `service ls`, for a layout this simple.)
 */
export function table(head: string[], rows: string[][]): string {
  const oneLine = (cell: string): string => cell.replace(/\s*\n\s*/g, ' ');
  return columns([head, ...rows.map((row) => row.map(oneLine))], 3).join('\n');
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

/** Rows as text columns, each padded to its widest cell (in characters), `gap` spaces apart. */
export function columns(rows: readonly string[][], gap = 2): string[] {
  const width = (cell: string): number => [...cell].length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => cell + ' '.repeat(widths[i]! - width(cell)))
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
