/**
 * The node's identity in the cluster (DESIGN section 8): its key and certificate (CN its node
 * id, OU worker) and the CA it pinned, kept in the worker's data dir (key 0600). A first start
 * joins with the token: pin the CA from a handshake, send the secret and a CSR, keep the
 * certificate; later starts reuse it. Renewed between 50 % and 80 % of its life, in place.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { FailedPreconditionError, UnauthenticatedError } from '@warren/core';
import {
  CertificateSource,
  DataDirError,
  PinError,
  certificateHash,
  TLS_CHANNEL_OPTIONS,
  channelCredentials,
  createWorkerClient,
  fetchPinnedCa,
  identityOfPem,
  isRejected,
  newKeyAndCsr,
  parseJoinToken,
  renewalAt,
  unary,
  writeSecretFile,
  type wire,
} from '@warren/api';
import { Backoff } from './backoff.js';
import { leaderNamed, managerList } from './manager-endpoints.js';

export interface JoinOptions {
  manager: string;
  /** The join token; needed only when the data dir holds no valid certificate. */
  token?: string;
  dataDir: string;
  /** Sent with a first join (the worker registers them again once connected). */
  name?: string;
  address: string;
  ingressAddr?: string;
  logger: Logger;
  signal?: AbortSignal;
}

const FILES = { key: 'node.key', cert: 'node.crt', ca: 'ca.crt' };
const RETRY = { initialMs: 200, maxMs: 5000 };
/** A failed renewal is tried again this soon (the certificate is still valid meanwhile). */
const RENEW_RETRY_MS = 5000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class NodeIdentity {
  private constructor(
    readonly source: CertificateSource,
    readonly nodeId: string,
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** The identity kept in `dataDir`, or a new one from joining with the token. */
  static async obtain(options: JoinOptions): Promise<NodeIdentity> {
    const o = { ...options, logger: options.logger.child({ component: 'identity' }) };
    const kept = await readKept(o.dataDir);
    if (kept && o.token) refuseAnotherCluster(o.dataDir, kept.ca, o.token);
    const id = kept && identityOfPem(kept.cert);
    if (kept && id && id.notAfter > Date.now()) {
      return new NodeIdentity(new CertificateSource(kept.ca, kept.cert, kept.key), id.id, o.dataDir, o.logger);
    }
    if (!o.token) {
      const why = kept ? 'its certificate expired' : 'it has not joined a cluster yet';
      throw new FailedPreconditionError(
        `this worker cannot connect: ${why}; start it with --token (warren join-token)`,
      );
    }
    return NodeIdentity.#join(o);
  }

  static async #join(o: JoinOptions): Promise<NodeIdentity> {
    const { caHash, secret } = parseJoinToken(o.token!);
    const retry = new Backoff(RETRY);
    const signal = o.signal ?? new AbortController().signal;
    // Any manager pins the CA (they share one); only the leader takes the join: a follower names it.
    const managers = managerList(o.manager);
    let manager = managers[0]!;
    const registration = {
      name: o.name ?? hostname(),
      hostname: hostname(),
      address: o.address,
      ingressAddress: o.ingressAddr ?? '0.0.0.0',
    };
    for (;;) {
      signal.throwIfAborted();
      try {
        // The CA first, from a handshake alone: a manager of another cluster never sees the secret.
        const ca = await fetchPinnedCa(manager, caHash);
        const { keyPem, csrPem } = await newKeyAndCsr();
        const client = createWorkerClient(manager, channelCredentials({ caPem: ca }), TLS_CHANNEL_OPTIONS);
        try {
          const request = { ...registration, token: secret, csr: csrPem, images: [] };
          const res = await unary<wire.RegisterRequest, wire.RegisterResponseOut>(client.Register, client, request, {
            signal,
            timeoutMs: 10_000,
          });
          await writeSecretFile(join(o.dataDir, FILES.key), keyPem);
          await writeSecretFile(join(o.dataDir, FILES.cert), res.certificate);
          await writeSecretFile(join(o.dataDir, FILES.ca), ca);
          o.logger.info({ id: res.nodeId, manager }, 'joined the cluster');
          return new NodeIdentity(new CertificateSource(ca, res.certificate, keyPem), res.nodeId, o.dataDir, o.logger);
        } finally {
          client.close();
        }
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof PinError && /another cluster|no certificate signed/.test(err.message)) {
          throw new UnauthenticatedError(err.message);
        }
        if (isRejected(err)) throw new UnauthenticatedError((err as { details?: string }).details ?? String(err));
        const leader = leaderNamed(err);
        if (leader) {
          manager = leader;
          continue;
        }
        o.logger.warn({ manager, reason: (err as Error).message }, 'cannot join yet; retrying');
        manager = managers[(managers.indexOf(manager) + 1) % managers.length] ?? manager;
      }
      await retry.wait(signal);
    }
  }

  /** A WorkerService client presenting this identity; it follows renewals without reconnecting. */
  client(manager: string): wire.WorkerServiceClient {
    return createWorkerClient(manager, channelCredentials(this.source), TLS_CHANNEL_OPTIONS);
  }

  /** Renews the certificate between 50 % and 80 % of its life, again and again, until `signal` aborts. */
  async renewals(client: wire.WorkerServiceClient, signal: AbortSignal): Promise<void> {
    let at = renewalAt(identityOfPem(this.source.certPem)!);
    while (!signal.aborted) {
      // Node's timers cannot wait longer than 2^31-1 ms (~24.8 days): wait in steps.
      const wait = Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now()));
      await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      if (Date.now() < at) continue;
      try {
        const { keyPem, csrPem } = await newKeyAndCsr();
        const res = await unary<object, wire.IssuedCertificateOut>(
          client.RenewCertificate,
          client,
          { nodeId: this.nodeId, csr: csrPem },
          { signal, timeoutMs: 10_000 },
        );
        await writeSecretFile(join(this.dir, FILES.key), keyPem);
        await writeSecretFile(join(this.dir, FILES.cert), res.certificate);
        this.source.update(res.certificate, keyPem);
        const renewed = identityOfPem(res.certificate)!;
        this.logger.info({ notAfter: new Date(renewed.notAfter).toISOString() }, 'node certificate renewed');
        at = renewalAt(renewed);
      } catch (err) {
        if (signal.aborted) return;
        this.logger.warn({ reason: (err as Error).message }, 'cannot renew the node certificate yet; retrying');
        at = Date.now() + RENEW_RETRY_MS;
      }
    }
  }
}

/**
 * A data dir that holds this node's identity in one cluster, started with a token of another (a
 * new manager, so a new CA): refused at once, as `docker swarm join` refuses a node already in a
 * swarm, instead of retrying forever against a CA the node does not trust.
 */
function refuseAnotherCluster(dir: string, keptCa: string, token: string): void {
  const { caHash } = parseJoinToken(token);
  const kept = certificateHash(keptCa);
  if (kept === caHash) return;
  throw new DataDirError(
    dir,
    `the data dir ${resolve(dir)} holds this node's identity in another cluster (CA ${kept.slice(0, 16)}…) ` +
      `than the token's (CA ${caHash.slice(0, 16)}…): remove that directory to join the new cluster, ` +
      'or start this worker with another --data-dir',
  );
}

async function readKept(dir: string): Promise<{ key: string; cert: string; ca: string } | undefined> {
  try {
    const [key, cert, ca] = await Promise.all(
      [FILES.key, FILES.cert, FILES.ca].map((f) => readFile(join(dir, f), 'utf8')),
    );
    return { key: key!, cert: cert!, ca: ca! };
  } catch {
    return undefined;
  }
}
