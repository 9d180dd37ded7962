import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import { createServer, isIP, isIPv4, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bindUdp, listenOn } from '../ingress/listen.js';
import { answer, CLASS_IN, failure, parseQuery, RCODE, TCP_LIMIT, TYPE_A, udpLimit, type Query } from './message.js';
import { dnsMetrics, type DnsAnswer, type DnsMetrics } from './metrics.js';
import { serveTcp } from './tcp.js';
import { Forwarder, parseUpstream, type Transport } from './upstream.js';

export interface DnsServerOptions {
  /** IPv4 address to listen on (UDP and TCP). */
  host: string;
  /** Port; 53 by default. 0 = any (tests). */
  port?: number;
  /** Upstream resolvers, 'ip' or 'ip:port' (IPv6 as '[v6]:port' or bare v6); default node:dns getServers(). */
  upstreams?: string[];
  /** How long one upstream may take before the next is tried: 2000 ms default. */
  upstreamTimeoutMs?: number;
  /**
   * Warren's names: called with the queried name lower-cased, without the trailing dot.
   * Returns the IPv4 addresses of a name Warren owns (possibly empty: the name exists, no address now),
   * or undefined when the name is not Warren's (then the query is forwarded upstream).
   */
  resolve(name: string): readonly string[] | undefined;
  /** The caller's child logger. */
  logger: Logger;
  /** Where the `warren_dns_*` metrics go; none by default. */
  registry?: Registry;
}

/** How long a TCP client connection with no query in flight stays open. */
const TCP_IDLE_MS = 10_000;
/** Names whose rotation is remembered; past this many the memory starts over. */
const MAX_ROTATIONS = 4096;
/** Tries at a port that is free for TCP and UDP both, when any port will do. */
const PORT_TRIES = 5;

/**
 * The DNS server a worker runs for its containers. Names Warren owns (services, `tasks.NAME`)
 * are answered from `resolve`, at once and with TTL 0, so that a client sees the tasks of now;
 * every other name is forwarded to the node's own resolvers, so that it resolves as it would
 * without Warren. It listens on UDP and TCP, as resolvers retry truncated answers over TCP.
 */
export class DnsServer {
  readonly #options: DnsServerOptions & { port: number };
  readonly #logger: Logger;
  readonly #metrics: DnsMetrics;
  readonly #forwarder: Forwarder;
  readonly #aborter = new AbortController();
  readonly #connections = new Set<Socket>();
  readonly #rotations = new Map<string, number>();
  #tcp: Server | undefined;
  #udp: dgram.Socket | undefined;
  #port: number | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: DnsServerOptions) {
    const port = options.port ?? 53;
    if (!isIP(options.host)) throw new Error(`DNS server: host "${options.host}" is not an IP address`);
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`DNS server: bad port ${port}`);
    const timeoutMs = options.upstreamTimeoutMs ?? 2000;
    if (!(timeoutMs > 0)) throw new RangeError(`DNS server: upstreamTimeoutMs must be positive, not ${timeoutMs}`);
    const upstreams = (options.upstreams ?? getServers()).map(parseUpstream);
    this.#options = { ...options, port };
    this.#logger = options.logger;
    this.#metrics = dnsMetrics(options.registry);
    this.#forwarder = new Forwarder(upstreams, timeoutMs, options.logger);
  }

  /**
   * Binds UDP and TCP. Rejects with the failure in words (`cannot listen on 198.18.0.1:53:
   * address already in use`), and then nothing stays bound.
   */
  start(): Promise<void> {
    if (this.#starting || this.#stopping) return Promise.reject(new Error('a DNS server starts once'));
    this.#starting = this.#start();
    return this.#starting;
  }

  /** The bound address, after start. */
  get address(): { host: string; port: number } {
    if (this.#port === undefined) throw new Error('the DNS server is not listening');
    return { host: this.#options.host, port: this.#port };
  }

  /** Closes both sockets, ends open TCP connections and abandons forwards under way. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #start(): Promise<void> {
    const { host, port } = this.#options;
    for (let tries = 1; ; tries++) {
      const tcp = createServer((socket) => this.#accept(socket));
      const tcpError = await listenOn(tcp, host, port);
      if (tcpError) throw new Error(tcpError);
      const bound = (tcp.address() as AddressInfo).port;
      const udp = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      const udpError = await bindUdp(udp, host, bound);
      if (udpError === undefined) {
        this.#listening(tcp, udp, bound);
        return;
      }
      closeUdp(udp);
      await new Promise((resolve) => tcp.close(resolve));
      // The port TCP picked may be taken for UDP: any other will do.
      if (port !== 0 || tries >= PORT_TRIES) throw new Error(udpError);
    }
  }

  #listening(tcp: Server, udp: dgram.Socket, port: number): void {
    this.#tcp = tcp;
    this.#udp = udp;
    this.#port = port;
    tcp.on('error', (err) => this.#logger.warn({ err }, 'the DNS server (TCP) failed'));
    udp.on('error', (err) => this.#logger.debug({ err }, 'the DNS server (UDP) failed'));
    udp.on('message', (message, client) => {
      void this.#reply(message, 'udp').then((reply) => {
        if (reply === undefined || this.#stopping) return;
        udp.send(reply, client.port, client.address, (err) => {
          if (err) this.#logger.debug({ err, client: client.address }, 'a DNS reply was not sent');
        });
      });
    });
    this.#logger.debug({ address: this.address }, 'the DNS server listens');
  }

  #accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.on('close', () => this.#connections.delete(socket));
    serveTcp(socket, { handle: (message) => this.#reply(message, 'tcp'), logger: this.#logger, idleMs: TCP_IDLE_MS });
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    this.#aborter.abort();
    for (const socket of this.#connections) socket.destroy();
    if (this.#udp) closeUdp(this.#udp);
    const tcp = this.#tcp;
    if (tcp) await new Promise((resolve) => tcp.close(resolve));
  }

  /** The reply to one message, or undefined when there is none to send. Never rejects. */
  async #reply(message: Buffer, transport: Transport): Promise<Buffer | undefined> {
    const started = performance.now();
    const answered = (reply: Buffer, how: DnsAnswer): Buffer => {
      this.#metrics.answered(how, (performance.now() - started) / 1000);
      return reply;
    };
    try {
      const parsed = parseQuery(message);
      if (parsed.kind !== 'query') {
        this.#logger.debug({ why: parsed.why, transport }, 'a malformed DNS query');
        return parsed.kind === 'error' ? parsed.reply : undefined;
      }
      const { query } = parsed;
      const ra = this.#forwarder.hasUpstreams;
      let addresses: readonly string[] | undefined;
      try {
        addresses = query.klass === CLASS_IN ? this.#options.resolve(query.name.toLowerCase()) : undefined;
      } catch (err) {
        this.#logger.warn({ err, name: query.name }, 'cannot resolve a name of the cluster');
        return answered(failure(query, RCODE.SERVFAIL, ra), 'failed');
      }
      if (addresses !== undefined) {
        const limit = transport === 'udp' ? udpLimit(query) : TCP_LIMIT;
        return answered(answer(query, this.#rotate(query, addresses), { ra, limit }), 'warren');
      }
      const signal = this.#aborter.signal;
      const reply = await this.#forwarder.forward(message, transport, this.address, signal);
      if (signal.aborted) return undefined;
      return reply ? answered(reply, 'forwarded') : answered(failure(query, RCODE.SERVFAIL, ra), 'failed');
    } catch (err) {
      this.#logger.warn({ err, transport }, 'a DNS query failed');
      return undefined;
    }
  }

  /** The IPv4 addresses of `addresses`, starting one further each time the name is asked (round robin). */
  #rotate(query: Query, addresses: readonly string[]): string[] {
    const usable = addresses.filter((address) => isIPv4(address));
    if (query.type !== TYPE_A || usable.length < 2) return usable;
    const key = query.name.toLowerCase();
    const turn = this.#rotations.get(key) ?? 0;
    if (this.#rotations.size >= MAX_ROTATIONS && !this.#rotations.has(key)) this.#rotations.clear();
    this.#rotations.set(key, (turn + 1) % usable.length);
    const first = turn % usable.length;
    return [...usable.slice(first), ...usable.slice(0, first)];
  }
}

function closeUdp(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // Closed already.
  }
}
