import { isIPv4 } from 'node:net';
import { ValidationError } from './errors.js';

/** `--vip-range` by default: part of 198.18.0.0/15, the range kept for benchmarks (RFC 2544). */
export const DEFAULT_VIP_RANGE = '198.18.0.0/20';

/**
 * The addresses a node gives its services' names: its DNS server at the first address of the
 * range, the virtual IPs after it. The whole range is made local to the host (an AnyIP route on
 * lo), so the node's proxy can listen on any of them and containers reach them through their
 * default route; nothing of it leaves the host.
 */
export interface VipRange {
  /** Normalised, `198.18.0.0/20`. */
  cidr: string;
  /** Where the node's DNS server listens: the first address. */
  dnsAddress: string;
  /** How many virtual IPs (the range less its network, DNS and broadcast addresses). */
  size: number;
  /** The i-th virtual IP, 0 ≤ i < size. */
  vip(i: number): string;
}

const toNumber = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toIp = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** Ranges whose addresses mean something else to every host, by their first two bytes. */
const RESERVED: Array<[string, (a: number, b: number) => boolean]> = [
  ['0.0.0.0/8 ("this network")', (a) => a === 0],
  ['loopback (127.0.0.0/8: a container has its own)', (a) => a === 127],
  ['link-local (169.254.0.0/16)', (a, b) => a === 169 && b === 254],
  ['multicast and reserved space (224.0.0.0/3)', (a) => a >= 224],
];

/** Whether `ip` is in the range `cidr` (both IPv4). */
export function inRange(ip: string, cidr: string): boolean {
  const [network = '', bits = '32'] = cidr.split('/');
  const span = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(ip) / span) === Math.floor(toNumber(network) / span);
}

/** Parses `--vip-range`: an IPv4 CIDR from /16 to /28. */
export function parseVipRange(text: string, flag = '--vip-range'): VipRange {
  const [ip = '', bits = '', ...rest] = text.trim().split('/');
  const prefix = /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
  if (!isIPv4(ip) || rest.length > 0 || !(prefix >= 16 && prefix <= 28)) {
    throw new ValidationError(flag, text, 'must be an IPv4 range from /16 to /28, like 198.18.0.0/20');
  }
  const span = 2 ** (32 - prefix);
  const network = toNumber(ip) - (toNumber(ip) % span);
  const first = Math.floor(network / 2 ** 24);
  const reserved = RESERVED.find(([, test]) => test(first, Math.floor(network / 2 ** 16) % 256));
  if (reserved)
    throw new ValidationError(flag, text, `${reserved[0]} cannot hold virtual IPs; use e.g. 198.18.0.0/20`);
  return {
    cidr: `${toIp(network)}/${prefix}`,
    dnsAddress: toIp(network + 1),
    size: span - 3,
    vip: (i) => {
      if (!(i >= 0 && i < span - 3)) throw new RangeError(`virtual IP ${i} is outside ${toIp(network)}/${prefix}`);
      return toIp(network + 2 + i);
    },
  };
}
