import { isIPv4, isIPv6 } from 'node:net';

/**
 * A DNS server's address as an operator writes it (`--dns-upstream`): `ip`, `ip:port`,
 * `[v6]:port`, `[v6]` or a bare IPv6 address, port 53 when none is given. Undefined when the
 * text is none of them; each caller says so in its own words.
 */
export function readDnsAddress(text: string): { address: string; port: number } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const [address, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : isIPv6(text)
      ? [text, undefined]
      : [text.replace(/:\d+$/, ''), /:(\d+)$/.exec(text)?.[1]];
  if (bracketed ? !isIPv6(address) : !isIPv4(address) && !isIPv6(address)) return undefined;
  const number = port === undefined ? 53 : Number(port);
  return number >= 1 && number <= 0xffff ? { address, port: number } : undefined;
}
