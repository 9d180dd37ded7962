/** The daemons' flags for published ports, checked before anything starts (bad input: exit 2). */
import { isIP } from 'node:net';
import { ValidationError, parseDuration } from '@warren/core';

/** `--ingress-addr`: every interface, as Docker's ingress. */
export const DEFAULT_INGRESS_ADDR = '0.0.0.0';
/** `--drain-timeout`: how long a stopping task waits for every proxy to let it go. */
export const DEFAULT_DRAIN_TIMEOUT = '2s';
const MAX_DRAIN_TIMEOUT_MS = 60_000;

/** The flags `warren worker` and `warren up` hand over as given. */
export interface IngressFlags {
  ingressAddr: string;
  advertiseAddr?: string;
}

/** `ingressAddr` and, when given, `advertiseAddr`, checked, as the worker takes them. */
export function ingressOptions(o: IngressFlags): { ingressAddr: string; advertiseAddr?: string } {
  const ingressAddr = parseIp('--ingress-addr', o.ingressAddr);
  if (o.advertiseAddr === undefined) return { ingressAddr };
  const advertiseAddr = parseIp('--advertise-addr', o.advertiseAddr);
  if (/^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)$/.test(advertiseAddr)) {
    const why = 'other nodes cannot reach it; give an address of this host, or leave the flag out';
    throw new ValidationError('--advertise-addr', o.advertiseAddr, why);
  }
  return { ingressAddr, advertiseAddr };
}

/** An IPv4 or IPv6 literal (no host name, no port); `[::1]` is read as `::1`. */
export function parseIp(flag: string, text: string): string {
  const ip = text.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(ip) === 0) {
    throw new ValidationError(flag, text, 'must be an IP address without a port, like 0.0.0.0, 127.0.0.2 or ::');
  }
  return ip;
}

/** `--drain-timeout` in ms: from 0s (stop at once) to 60s. */
export function parseDrainTimeout(text: string): number {
  const ms = parseDuration(text, '--drain-timeout');
  if (ms > MAX_DRAIN_TIMEOUT_MS) {
    throw new ValidationError('--drain-timeout', text, `must be from 0s to ${MAX_DRAIN_TIMEOUT_MS / 1000}s`);
  }
  return ms;
}
