/**
 * The manager's side of the cluster CA (DESIGN section 8): the root (kept in `<data-dir>/certs`,
 * key 0600: local-ca.ts; with etcd, shared by every manager: shared-ca.ts), the join secrets in
 * the store, the manager's own certificate (made at start, renewed in place), and signing for
 * joining, renewing and remote clients.
 */
import type { Logger } from 'pino';
import { UnauthenticatedError, ValidationError } from '@warren/core';
import {
  CertificateSource,
  ClusterCa,
  DEFAULT_CERT_VALIDITY_MS,
  formatJoinToken,
  identityOfPem,
  newJoinSecret,
  newKeyAndCsr,
  renewalAt,
  sameSecret,
  type Role,
} from '@warren/api';
import type { Store } from '../store/store.js';
import { MANAGER_SECRET_KEY, openManagerSecret, sealCaKey, sealManagerSecret, CA_KEY_SEALED } from './sealing.js';

/** The workers' join secret, in the store (a follower sees a rotation the leader made). */
export const SECRET_KEY = 'join-secret';
/** A certificate shorter than this could not renew in time. */
const MIN_VALIDITY_MS = 10_000;
const MAX_VALIDITY_MS = 10 * 365 * 86_400_000;

export class ClusterPki {
  #secret: string;
  #timer?: NodeJS.Timeout;

  private constructor(
    readonly ca: ClusterCa,
    /** The manager's certificate and key, served on its TLS port. */
    readonly source: CertificateSource,
    private readonly store: Store,
    readonly certExpiryMs: number,
    private readonly logger: Logger,
    secret: string,
  ) {
    this.#secret = secret;
  }

  /**
   * Starts with `ca` and the join secret in the store (written at the first start of a manager
   * that may write: with etcd the bootstrap wrote it, shared-ca.ts).
   */
  static async start(ca: ClusterCa, store: Store, certExpiryMs: number, logger: Logger): Promise<ClusterPki> {
    checkValidity(certExpiryMs, '--cert-expiry');
    let secret = store.meta(SECRET_KEY);
    if (secret === undefined) {
      const fresh = newJoinSecret();
      await store.mutate(() => ({ changes: [{ kind: 'putMeta', key: SECRET_KEY, value: fresh }], result: undefined }));
      secret = fresh;
    }
    const own = await issueOwn(ca, certExpiryMs);
    const source = new CertificateSource(ca.certPem, own.certPem + ca.certPem, own.keyPem);
    const pki = new ClusterPki(ca, source, store, certExpiryMs, logger, secret);
    pki.#scheduleRenewal(own.certPem);
    return pki;
  }

  /** The workers' join secret: the store's (a rotation on another manager shows), else the one it started with. */
  #current(): string {
    return this.store.meta(SECRET_KEY) ?? this.#secret;
  }

  get joinToken(): string {
    return formatJoinToken({ caHash: this.ca.hash, secret: this.#current() });
  }

  /** Whether `secret` is the current join secret (in constant time). */
  admits(secret: string): boolean {
    return sameSecret(secret, this.#current());
  }

  /**
   * The token another manager joins with (etcd: `warren join-token manager`), undefined for a
   * single manager on LevelDB. Its secret unseals the CA's key from etcd; it is kept there only
   * sealed with the CA's key, which only managers hold.
   */
  get managerToken(): string | undefined {
    const sealed = this.store.meta(MANAGER_SECRET_KEY);
    if (sealed === undefined) return undefined;
    return formatJoinToken({ caHash: this.ca.hash, secret: openManagerSecret(sealed, this.ca) });
  }

  /** A new manager secret: the CA's key sealed again with it; managers already joined are not affected. */
  async rotateManagerToken(): Promise<string> {
    const fresh = newJoinSecret();
    await this.store.mutate(() => ({
      changes: [
        { kind: 'putMeta', key: MANAGER_SECRET_KEY, value: sealManagerSecret(fresh, this.ca) },
        { kind: 'putMeta', key: CA_KEY_SEALED, value: sealCaKey(this.ca, fresh) },
      ],
      result: undefined,
    }));
    this.logger.info('manager join token rotated');
    return this.managerToken!;
  }

  /** A new join secret; certificates already issued stay valid. */
  async rotate(): Promise<string> {
    const fresh = newJoinSecret();
    await this.store.mutate(() => ({
      changes: [{ kind: 'putMeta', key: SECRET_KEY, value: fresh }],
      result: undefined,
    }));
    this.logger.info('join token rotated');
    return this.joinToken;
  }

  /** Signs a CSR for `id` in `role`; a bad request is refused (UNAUTHENTICATED for a node, INVALID_ARGUMENT else). */
  async sign(csrPem: string, id: string, role: Role, validityMs = this.certExpiryMs): Promise<string> {
    checkValidity(validityMs, 'validity');
    try {
      return await this.ca.sign({ csrPem, id, role, validityMs });
    } catch (err) {
      if (role === 'client') throw new ValidationError('csr', '(PEM)', (err as Error).message);
      throw new UnauthenticatedError(`cannot sign the node's certificate request: ${(err as Error).message}`);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** Renews the manager's own certificate between 50 % and 80 % of its life, in place. */
  #scheduleRenewal(certPem: string, at = renewalAt(identityOfPem(certPem)!)): void {
    // Node's timers cannot wait longer than 2^31-1 ms (~24.8 days): a long wait is taken in steps.
    this.#timer = setTimeout(
      () => {
        if (Date.now() < at) return this.#scheduleRenewal(certPem, at);
        void issueOwn(this.ca, this.certExpiryMs).then(
          (own) => {
            this.source.update(own.certPem + this.ca.certPem, own.keyPem);
            this.logger.info('manager certificate renewed');
            this.#scheduleRenewal(own.certPem);
          },
          (err: unknown) => this.logger.error({ err }, 'cannot renew the manager certificate'),
        );
      },
      Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())),
    );
    this.#timer.unref();
  }
}

async function issueOwn(ca: ClusterCa, validityMs: number): Promise<{ certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await newKeyAndCsr();
  return { keyPem, certPem: await ca.sign({ csrPem, id: 'manager', role: 'manager', validityMs }) };
}

function checkValidity(ms: number, flag: string): void {
  if (!Number.isFinite(ms) || ms < MIN_VALIDITY_MS || ms > MAX_VALIDITY_MS) {
    throw new ValidationError(flag, `${ms}ms`, 'must be between 10s and 3650 days');
  }
}

export { DEFAULT_CERT_VALIDITY_MS };
