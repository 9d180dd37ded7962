/** The daemons' flags for published ports, checked before anything starts (bad input: exit 2). */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { collect } from './options.js';
import { DEFAULT_VIP_RANGE, ValidationError, parseDuration, parseVipRange, readDnsAddress } from '@warren/core';

/** `--ingress-addr`: every interface, as Docker's ingress. */
export const DEFAULT_INGRESS_ADDR = '0.0.0.0';
/** `--drain-timeout`: how long a stopping task waits for every proxy to let it go. */
export const DEFAULT_DRAIN_TIMEOUT = '2s';
const MAX_DRAIN_TIMEOUT_MS = 60_000;

/** The flags `warren worker` and `warren up` hand over as given. */
export interface IngressFlags {
  ingressAddr: string;
  advertiseAddr?: string;
  vipRange?: string;
  dnsUpstream?: string[];
}

export const VIP_RANGE =
  "the node's addresses for service names: its DNS server, then a virtual IP per service " +
  `(default ${DEFAULT_VIP_RANGE})`;
export const DNS_UPSTREAM =
  "where names that are not services are resolved, IP[:PORT], repeatable (default: the host's resolvers)";

/** `--vip-range` and `--dns-upstream`, checked, as the worker takes them. */
export function nameOptions(o: IngressFlags): { vipRange?: string; dnsUpstreams?: string[] } {
  const vipRange = o.vipRange === undefined ? {} : { vipRange: parseVipRange(o.vipRange).cidr };
  const upstreams = (o.dnsUpstream ?? []).map(parseDnsUpstream);
  return { ...vipRange, ...(upstreams.length > 0 ? { dnsUpstreams: upstreams } : {}) };
}

/** `IP`, `IP:PORT` or `[IPv6]:PORT` (core's readDnsAddress), as given. */
export function parseDnsUpstream(text: string): string {
  if (readDnsAddress(text)) return text;
  throw new ValidationError('--dns-upstream', text, 'must be IP or IP:PORT, like 192.0.2.53 or 127.0.0.1:5353');
}

const INGRESS_ADDR = 'where the proxy accepts connections for published ports';
const ADVERTISE_ADDR =
  "the address other nodes reach this node's published tasks at (default: the one it reaches the manager from)";

/** The flags of what leads to a node's tasks (its proxy and its names), on `warren up` and `warren worker`. */
export function addFrontOptions(command: Command): Command {
  return command
    .option('--ingress-addr <ip>', INGRESS_ADDR, DEFAULT_INGRESS_ADDR)
    .option('--advertise-addr <ip>', ADVERTISE_ADDR)
    .option('--vip-range <cidr>', VIP_RANGE)
    .option('--dns-upstream <addr>', DNS_UPSTREAM, (v: string, previous: string[] = []) => collect(v, previous));
}

/** Those flags, checked, as the worker takes them. */
export function frontOptions(o: IngressFlags): ReturnType<typeof ingressOptions> & ReturnType<typeof nameOptions> {
  return { ...ingressOptions(o), ...nameOptions(o) };
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
