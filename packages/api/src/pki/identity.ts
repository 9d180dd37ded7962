/** Who a verified certificate speaks for: its CN (node id or client name), OU (role) and life. */
import type { PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ROLES, type Role } from './roles.js';

export interface Identity {
  id: string;
  role: Role;
  /** Epoch ms. */
  notBefore: number;
  notAfter: number;
  serial: string;
}

/** The identity of a PEM certificate (one this process holds), or undefined when it has none. */
export function identityOfPem(certPem: string): Identity | undefined {
  const cert = new X509Certificate(certPem);
  const field = (name: string): string | undefined =>
    cert.subject
      .split('\n')
      .find((l) => l.startsWith(`${name}=`))
      ?.slice(name.length + 1);
  return identity(field('CN'), field('OU'), cert.validFrom, cert.validTo, cert.serialNumber);
}

/** The identity of a TLS peer's certificate as grpc-js hands it over (already verified against the CA). */
export function identityOfPeer(peer: PeerCertificate | undefined): Identity | undefined {
  if (!peer?.subject) return undefined;
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return identity(one(peer.subject.CN), one(peer.subject.OU), peer.valid_from, peer.valid_to, peer.serialNumber);
}

function identity(
  cn: string | undefined,
  ou: string | undefined,
  from: string,
  to: string,
  serial: string,
): Identity | undefined {
  if (!cn || !ROLES.includes(ou as Role)) return undefined;
  return { id: cn, role: ou as Role, notBefore: Date.parse(from), notAfter: Date.parse(to), serial };
}

/**
 * When to renew a certificate: at a random point between 50 % and 80 % of its life, as Swarm
 * does, so that a cluster's nodes never renew all at once. `random` in [0, 1).
 */
export function renewalAt(id: Pick<Identity, 'notBefore' | 'notAfter'>, random = Math.random()): number {
  const life = id.notAfter - id.notBefore;
  return id.notBefore + life * (0.5 + 0.3 * random);
}
