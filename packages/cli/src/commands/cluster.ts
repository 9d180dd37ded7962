/** Trust in the cluster: `warren join-token [--rotate]` and `warren cert issue --out DIR`. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { ValidationError, formatDuration, parseDuration } from '@warren/core';
import type { wire } from '@warren/api/client';
import { TLS_FILES } from '../tls-files.js';

export function joinTokenCommand(): Command {
  return new Command('join-token')
    .description('print the token workers (or, with etcd, managers) join with')
    .argument('[role]', 'worker or manager', 'worker')
    .option('--rotate', 'replace its secret first: the old token stops working; joined nodes are not affected')
    .option('-q, --quiet', 'print the token alone')
    .action(async (role: string, o: { rotate?: boolean; quiet?: boolean }, cmd: Command) => {
      if (role !== 'worker' && role !== 'manager') throw new ValidationError('role', role, 'is worker or manager');
      const { control } = await import('../context.js');
      const request = { rotate: o.rotate === true, role };
      const { token } = await control<wire.JoinTokenInfoOut>(cmd, (c) => c.JoinToken, request);
      if (o.quiet) return void process.stdout.write(`${token}\n`);
      const rotated = o.rotate ? 'The join token was rotated: the previous one no longer works.\n' : '';
      const run =
        role === 'worker'
          ? `warren worker --manager HOST:PORT[,HOST:PORT…] --token ${token}`
          : `warren manager --store etcd://HOST:PORT[,…] --token ${token}`;
      process.stdout.write(`${rotated}To add a ${role} to this cluster, run:\n\n    ${run}\n`);
    });
}

export function certCommand(): Command {
  const cert = new Command('cert').description('certificates of the cluster CA');
  cert
    .command('issue')
    .description(
      'write a client certificate for a remote CLI (ca.pem, cert.pem, key.pem) to DIR; run it on the manager host, ' +
        'then use warren --manager HOST:PORT --tls-dir DIR …',
    )
    .requiredOption('--out <dir>', 'directory to write to (created; key.pem is readable by you alone)')
    .option('--name <name>', "the certificate's name (its CN), shown in the manager's logs", 'cli')
    .option('--expiry <duration>', "validity (default: the manager's --cert-expiry)")
    .action(async (o: { out: string; name: string; expiry?: string }, cmd: Command) => {
      const validityMs = o.expiry === undefined ? 0 : parseDuration(o.expiry, '--expiry');
      const [{ control }, { newKeyAndCsr, writeSecretFile }] = await Promise.all([
        import('../context.js'),
        import('@warren/api/pki'),
      ]);
      const { keyPem, csrPem } = await newKeyAndCsr();
      const issued = await control<wire.IssuedCertificateOut>(cmd, (c) => c.IssueCertificate, {
        csr: csrPem,
        name: o.name,
        validityMs,
      });
      await writeSecretFile(join(o.out, TLS_FILES.key), keyPem);
      await writeFile(join(o.out, TLS_FILES.cert), issued.certificate);
      await writeFile(join(o.out, TLS_FILES.ca), issued.caCertificate);
      const left = formatDuration(Math.round((Number(issued.notAfterMs) - Date.now()) / 60_000) * 60_000);
      process.stdout.write(
        `Wrote ${o.out}/{${Object.values(TLS_FILES).join(',')}} for "${o.name}" (valid for ${left}).\n` +
          `Use it with: warren --manager HOST:PORT --tls-dir ${o.out} … (or WARREN_TLS_DIR)\n`,
      );
    });
  return cert;
}
