import { randomBytes } from 'node:crypto';

/** A new object id: 12 lower-case hex characters (48 random bits), like a short Docker id. */
export function newId(): string {
  return randomBytes(6).toString('hex');
}

/** A new join token: `wrn-` and 48 hex characters. */
export function newJoinToken(): string {
  return `wrn-${randomBytes(24).toString('hex')}`;
}
