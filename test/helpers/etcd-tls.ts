/**
 * Certificates for etcd members that speak mutual TLS to their clients (as production etcd
 * does): a CA of the test's own, a server certificate for 127.0.0.1, a client certificate for the
 * managers. Made with @peculiar/x509 over WebCrypto, as the cluster CA is (no openssl needed).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

export interface EtcdTlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return `${x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY')}\n`;
}

/** Writes the CA, server and client certificates and keys into `dir`; returns their paths. */
export async function writeEtcdTls(dir: string): Promise<EtcdTlsFiles> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + DAY_MS) };
  const caKeys = await keyPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=etcd-test-ca',
    keys: caKeys,
    signingAlgorithm: SIGNING,
    ...validity,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const leaf = async (cn: string, usage: x509.ExtendedKeyUsage[], san?: x509.SubjectAlternativeNameExtension) => {
    const keys = await keyPair();
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${cn}`,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIGNING,
      ...validity,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usage),
        ...(san ? [san] : []),
      ],
    });
    return { cert: `${cert.toString('pem')}\n`, key: await keyPem(keys.privateKey) };
  };
  const server = await leaf(
    '127.0.0.1',
    // etcd's own gateway dials the member with the server certificate: it is a client too.
    [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    new x509.SubjectAlternativeNameExtension([
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
    ]),
  );
  const client = await leaf('warren-manager', [x509.ExtendedKeyUsage.clientAuth]);
  const files: EtcdTlsFiles = {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
  };
  await writeFile(files.ca, `${ca.toString('pem')}\n`);
  await writeFile(files.serverCert, server.cert);
  await writeFile(files.serverKey, server.key, { mode: 0o600 });
  await writeFile(files.clientCert, client.cert);
  await writeFile(files.clientKey, client.key, { mode: 0o600 });
  return files;
}
