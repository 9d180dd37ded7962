/**
 * gRPC credentials from the cluster CA: a node's own certificate and key (swapped in place when
 * it renews, so open connections and streams carry on) and the CA it trusts. Peers are checked by
 * role (the certificate's OU), not host name: nodes are reached by IP and certificates carry none.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { identityOfPeer, type Identity } from './identity.js';
import type { Role } from './roles.js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** The TLS name a client asks for: the manager's certificate names no host, so any fixed name does. */
const TARGET_NAME = 'warren-manager';

/** A CA and a certificate with its key, as grpc-js's certificate providers hand them out. */
export class CertificateSource implements grpc.experimental.CertificateProvider {
  #ca: Buffer;
  #identity: { certificate: Buffer; privateKey: Buffer };
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(caPem: string, certPem: string, keyPem: string) {
    this.#ca = Buffer.from(caPem);
    this.#identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
  }

  get certPem(): string {
    return this.#identity.certificate.toString();
  }

  get caPem(): string {
    return this.#ca.toString();
  }

  /** A renewed certificate: new connections present it; connections already open keep going. */
  update(certPem: string, keyPem: string): void {
    this.#identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.#identityListeners) l(this.#identity);
  }

  // grpc-js registers its watcher only after adding these listeners: the first update comes on
  // the next tick (as its FileWatcherCertificateProvider does), or the server would never see it.
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    process.nextTick(() => listener({ caCertificate: this.#ca }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(() => listener(this.#identity));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/**
 * A server that presents `source` and asks clients for a certificate without requiring one (a
 * joining worker has none yet): a call's verified certificate, if any, is in its auth context.
 */
export function serverCredentials(source: CertificateSource): grpc.ServerCredentials {
  return grpc.experimental.createCertificateProviderServerCredentials(source, source, false);
}

/** A client that presents `source` (or no certificate) and accepts only a peer of `role` signed by the CA. */
export function channelCredentials(
  source: CertificateSource | { caPem: string },
  role: Role = 'manager',
): grpc.ChannelCredentials {
  const ca = source instanceof CertificateSource ? source : new CaOnly(source.caPem);
  const identity = source instanceof CertificateSource ? source : null;
  return grpc.experimental.createCertificateProviderChannelCredentials(ca, identity, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      identityOfPeer(cert)?.role === role
        ? undefined
        : new Error(`the peer's certificate is not a ${role}'s of this cluster`),
  });
}

/** Channel options that go with channelCredentials. */
export const TLS_CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': TARGET_NAME };

class CaOnly implements grpc.experimental.CertificateProvider {
  constructor(private readonly caPem: string) {}
  addCaCertificateListener(listener: CaListener): void {
    process.nextTick(() => listener({ caCertificate: Buffer.from(this.caPem) }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(): void {}
  removeIdentityCertificateListener(): void {}
}

/** The verified identity of a call's peer (undefined: no certificate, or not one of this cluster's). */
export function callIdentity(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
}): Identity | undefined {
  return identityOfPeer(call.getAuthContext().sslPeerCertificate);
}
