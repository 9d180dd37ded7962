import * as http from 'node:http';
import * as https from 'node:https';
import type { ProbeHandler } from '@warren/core';
import { HTTP_BODY_LIMIT, networkError, timedOut, type ProbeOutcome, type ProbeTarget } from './types.js';

type HttpHandler = Extract<ProbeHandler, { kind: 'http' }>;

/**
 * GET scheme://address:port/path on a new connection (`Connection: close`, no agent), with the
 * handler's headers. Success when the status is in range. Reads at most 10 KiB of the body;
 * https does not verify the certificate.
 */
export function httpProbe(h: HttpHandler, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const client = h.scheme === 'https' ? https : http;
  const headers: Record<string, string> = { 'user-agent': 'warren-probe', connection: 'close' };
  for (const { name, value } of h.headers) headers[name] = value;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const req = client.request(
      {
        host: target.address,
        port: h.port,
        path: h.path,
        method: 'GET',
        headers,
        agent: false,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (): void => {
          const status = res.statusCode ?? 0;
          const ok = status >= h.statusMin && status <= h.statusMax;
          const output = Buffer.concat(chunks).toString('utf8');
          finish({ outcome: ok ? 'success' : 'failure', code: status, output });
        };
        res.on('data', (chunk: Buffer) => {
          if (size < HTTP_BODY_LIMIT) chunks.push(chunk.subarray(0, HTTP_BODY_LIMIT - size));
          size += chunk.length;
          if (size >= HTTP_BODY_LIMIT) done();
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => finish(timedOut(timeoutMs)), timeoutMs);
    req.on('error', (err) => finish({ outcome: 'failure', output: networkError(err) }));
    req.end();
  });
}
