/**
 * With etcd, every manager signs with one CA, and etcd holds no private key in the clear
 * (DESIGN 9): the CA's key is sealed with the manager join secret (only managers and whoever holds
 * `warren join-token manager` have it), and that secret with the CA's key (so a manager can show
 * the token). AES-256-GCM with a key from HKDF-SHA256, salted with the CA's hash.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { UnauthenticatedError } from '@warren/core';
import type { ClusterCa } from '@warren/api';

/** meta keys of the store (layout.ts): the CA certificate, its sealed key, the sealed manager secret. */
export const CA_CERT = 'ca-cert';
export const CA_KEY_SEALED = 'ca-key-sealed';
export const MANAGER_SECRET_KEY = 'manager-secret-sealed';

function keyFrom(secret: string, caHash: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(caHash, 'hex'), `warren ${purpose}`, 32));
}

function seal(plain: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64')))
    .join(':');
}

function open(sealed: string, key: Buffer): string {
  const [v, iv, tag, body] = sealed.split(':');
  if (v !== 'v1' || !iv || !tag || !body) throw new Error('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
}

export function sealCaKey(ca: Pick<ClusterCa, 'keyPem' | 'hash'>, managerSecret: string): string {
  return seal(ca.keyPem, keyFrom(managerSecret, ca.hash, 'ca key'));
}

/** The CA's key, or an UnauthenticatedError when `managerSecret` is not the one that sealed it. */
export function openCaKey(sealed: string, caHash: string, managerSecret: string): string {
  try {
    return open(sealed, keyFrom(managerSecret, caHash, 'ca key'));
  } catch {
    throw new UnauthenticatedError(
      'this is not a manager token of the cluster in etcd (warren join-token manager on a manager shows it)',
    );
  }
}

export function sealManagerSecret(secret: string, ca: Pick<ClusterCa, 'keyPem' | 'hash'>): string {
  return seal(secret, keyFrom(ca.keyPem, ca.hash, 'manager secret'));
}

export function openManagerSecret(sealed: string, ca: Pick<ClusterCa, 'keyPem' | 'hash'>): string {
  return open(sealed, keyFrom(ca.keyPem, ca.hash, 'manager secret'));
}
