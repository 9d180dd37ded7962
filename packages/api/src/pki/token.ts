/**
 * Join tokens: `WRN-1-<sha256 of the CA certificate, hex>-<secret>`. The hash lets a joining
 * worker pin the CA before it sends anything; the secret buys it one node certificate.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '@warren/core';

const PREFIX = 'WRN-1-';
const SECRET_BYTES = 24;

export interface JoinToken {
  caHash: string;
  secret: string;
}

export function newJoinSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export function formatJoinToken(t: JoinToken): string {
  return `${PREFIX}${t.caHash}-${t.secret}`;
}

/** Reads a token; `flag` names where it came from for the error (`--token`). */
export function parseJoinToken(token: string, flag = '--token'): JoinToken {
  const m = /^WRN-1-([0-9a-f]{64})-([A-Za-z0-9_-]{16,128})$/.exec(token.trim());
  if (!m) {
    throw new ValidationError(
      flag,
      '(hidden)',
      'is not a join token: expected WRN-1-<CA hash>-<secret> (warren join-token)',
    );
  }
  return { caHash: m[1]!, secret: m[2]! };
}

/** Compares secrets in constant time (a wrong guess learns nothing from the time it took). */
export function sameSecret(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}
