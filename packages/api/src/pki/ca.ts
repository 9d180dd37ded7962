/**
 * The cluster CA (DESIGN section 8): an ECDSA P-256 root made at the manager's first start, and
 * node and client certificates it signs from a CSR (the key never leaves its owner). Built on
 * @peculiar/x509 over Node's WebCrypto: no openssl, no hand-written ASN.1.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** The root lives long (as Swarm's: 20 years); node certificates are short and renewed. */
export const CA_VALIDITY_MS = 20 * 365 * DAY_MS;
export const DEFAULT_CERT_VALIDITY_MS = 90 * DAY_MS;
/**
 * Clocks between nodes differ a little: a certificate is valid from a minute before it was
 * signed (a tenth of its validity when that is shorter, so that renewal at 50-80 % of its life
 * still falls after it was issued).
 */
const BACKDATE_MS = 60_000;
const backdate = (validityMs: number): number => Math.min(BACKDATE_MS, validityMs / 10);

import type { Role } from './roles.js';

export { ROLES, type Role } from './roles.js';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

/** A new P-256 key and a CSR for it (its subject is decided by the CA, not the requester). */
export async function newKeyAndCsr(): Promise<KeyAndCsr> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=warren',
    keys,
    signingAlgorithm: SIGNING,
  });
  return { keyPem: await privateKeyPem(keys.privateKey), csrPem: pem(csr.toString('pem')) };
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem(x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY'));
}

/** PEM ending in a newline, so that a chain is the concatenation of its certificates. */
function pem(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The SHA-256 of a certificate's DER, in hex: what a join token pins. */
export function certificateHash(certPem: string): string {
  return createHash('sha256')
    .update(Buffer.from(new x509.X509Certificate(certPem).rawData))
    .digest('hex');
}

export interface SignRequest {
  csrPem: string;
  /** The subject's CN: a node id, or a client's name. */
  id: string;
  role: Role;
  validityMs?: number;
  /** Default: Date.now(). */
  now?: number;
}

export class ClusterCa {
  private constructor(
    readonly certPem: string,
    readonly keyPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
  ) {}

  /** A new root: self-signed, CN warren-root-ca, allowed to sign certificates and nothing else. */
  static async create(now = Date.now()): Promise<ClusterCa> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=warren-root-ca, O=warren',
      keys,
      signingAlgorithm: SIGNING,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_VALIDITY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new ClusterCa(pem(cert.toString('pem')), await privateKeyPem(keys.privateKey), cert, keys.privateKey);
  }

  /** The root kept in the manager's data dir; refuses a key that is not the certificate's. */
  static async load(certPem: string, keyPem: string): Promise<ClusterCa> {
    const cert = new x509.X509Certificate(certPem);
    const der = x509.PemConverter.decodeFirst(keyPem);
    const key = await webcrypto.subtle.importKey('pkcs8', der, EC, true, ['sign']);
    const probe = new TextEncoder().encode('warren');
    const signature = await webcrypto.subtle.sign(SIGNING, key, probe);
    const publicKey = await cert.publicKey.export(EC, ['verify']);
    if (!(await webcrypto.subtle.verify(SIGNING, publicKey, signature, probe))) {
      throw new Error('the CA key does not belong to the CA certificate');
    }
    return new ClusterCa(pem(certPem), pem(keyPem), cert, key);
  }

  /** What a join token pins. */
  get hash(): string {
    return certificateHash(this.certPem);
  }

  /**
   * A certificate for the key of `csrPem` (its signature checked: the requester holds the key),
   * CN = id, OU = role, for both ends of a TLS connection; it carries no host name: peers check
   * the role instead (DESIGN section 8). Returns the PEM.
   */
  async sign(r: SignRequest): Promise<string> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(r.csrPem);
    } catch {
      throw new Error('the certificate request is not a PEM PKCS#10 request');
    }
    if (!(await csr.verify())) throw new Error('the certificate request is not signed by its key');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(r.id)) throw new Error(`certificate id ${JSON.stringify(r.id)} is not valid`);
    const now = r.now ?? Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${r.id}, OU=${r.role}, O=warren`,
      issuer: this.cert.subject,
      publicKey: csr.publicKey,
      signingKey: this.key,
      signingAlgorithm: SIGNING,
      notBefore: new Date(now - backdate(r.validityMs ?? DEFAULT_CERT_VALIDITY_MS)),
      notAfter: new Date(now + (r.validityMs ?? DEFAULT_CERT_VALIDITY_MS)),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
      ],
    });
    return pem(cert.toString('pem'));
  }
}
