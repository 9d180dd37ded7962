/** The text of `warren version`: a Client block, then a Server block (as `docker version`). */
import { VERSION } from '@warren/api/light';
import type { wire } from '@warren/api/convert';
import { ago, fields, indent } from '../output.js';

export function clientVersionText(): string {
  return block('Client', [
    ['Version', VERSION],
    ['Node version', process.version],
    ['OS/Arch', `${process.platform}/${process.arch}`],
  ]);
}

/** The manager's version as it answered at `address`. */
export function serverVersionText(info: wire.VersionInfoOut, address: string, now = Date.now()): string {
  return block('Server', [
    ['Manager', address],
    ['Version', info.version],
    ['Node version', info.nodeVersion],
    ['OS/Arch', `${info.os}/${info.arch}`],
    ['Started', `${new Date(info.startedAtMs).toISOString()} (${ago(info.startedAtMs, now)})`],
  ]);
}

function block(title: string, lines: ReadonlyArray<readonly [string, string]>): string {
  return `${title}:\n${indent(fields(lines))}\n`;
}
