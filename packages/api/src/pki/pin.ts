/**
 * Pinning the cluster CA before a worker sends anything: a TLS handshake with the manager (no
 * request), the root of the chain it presents hashed and compared with the join token's hash.
 * Only then does the worker trust that root for the calls that carry its secret.
 */
import tls from 'node:tls';
import { X509Certificate, createHash } from 'node:crypto';

export class PinError extends Error {
  override readonly name = 'PinError';
}

/**
 * The PEM of the CA that signed the manager's certificate at `address` (HOST:PORT), when its
 * SHA-256 is `caHash`; throws a PinError otherwise (another cluster, or no CA at all).
 */
export async function fetchPinnedCa(address: string, caHash: string, timeoutMs = 10_000): Promise<string> {
  const chain = await presentedChain(address, timeoutMs);
  const root = chain.at(-1)!;
  const hash = createHash('sha256').update(root.raw).digest('hex');
  if (hash !== caHash) {
    throw new PinError(
      `the manager at ${address} belongs to another cluster: its CA is sha256:${hash.slice(0, 16)}…, ` +
        `the join token pins sha256:${caHash.slice(0, 16)}…`,
    );
  }
  const leaf = new X509Certificate(chain[0]!.raw);
  const ca = new X509Certificate(root.raw);
  if (chain.length < 2 || !ca.ca || !leaf.verify(ca.publicKey)) {
    throw new PinError(`the manager at ${address} presents no certificate signed by the pinned CA`);
  }
  return ca.toString();
}

/** The certificates the server presents, leaf first, root last (following issuers). */
function presentedChain(address: string, timeoutMs: number): Promise<tls.DetailedPeerCertificate[]> {
  const at = address.lastIndexOf(':');
  const [host, port] = [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
  return new Promise((resolve, reject) => {
    // Nothing is verified here (the point is to learn the CA); nothing but the handshake is sent.
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: '' });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new PinError(`no TLS handshake from ${address} within ${timeoutMs} ms`)),
    );
    socket.once('error', (err) =>
      reject(
        err instanceof PinError
          ? err
          : new PinError(`cannot reach the manager at ${address} over TLS: ${err.message}`),
      ),
    );
    socket.once('secureConnect', () => {
      const chain: tls.DetailedPeerCertificate[] = [];
      for (let c = socket.getPeerCertificate(true); c?.raw && !chain.includes(c); c = c.issuerCertificate) {
        chain.push(c);
      }
      socket.destroy();
      if (chain.length === 0) reject(new PinError(`the manager at ${address} presented no certificate`));
      else resolve(chain);
    });
  });
}
