/**
 * DNS for the names tests: queries over UDP and TCP (dns-packet, as the worker's server), and a
 * small upstream resolver of the test's own on loopback, so that no query leaves this machine.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface DnsAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, … */
  rcode: string;
  authoritative: boolean;
  /** The A records' addresses, in the order given. */
  addresses: string[];
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

function answerOf(buf: Buffer): DnsAnswer {
  const packet = dnsPacket.decode(buf);
  const flags = packet.flags ?? 0;
  const addresses = (packet.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : []));
  return {
    rcode: RCODES[flags & 15] ?? String(flags & 15),
    authoritative: (flags & dnsPacket.AUTHORITATIVE_ANSWER) !== 0,
    addresses,
  };
}

function queryPacket(name: string, type: 'A' | 'AAAA'): Buffer {
  const id = Math.floor(Math.random() * 65_535);
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
}

/** One query to `server:port`; rejects after `timeoutMs`. */
export function query(
  server: string,
  name: string,
  o: { port?: number; type?: 'A' | 'AAAA'; tcp?: boolean; timeoutMs?: number } = {},
): Promise<DnsAnswer> {
  const { port = 53, type = 'A', tcp = false, timeoutMs = 5000 } = o;
  const packet = queryPacket(name, type);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no DNS answer from ${server}:${port} for ${name}`)), timeoutMs);
    let close = (): void => undefined;
    const finish = (err: Error | undefined, answer?: DnsAnswer): void => {
      clearTimeout(timer);
      close();
      if (err) reject(err);
      else resolve(answer!);
    };
    if (tcp) {
      const socket = net.connect({ host: server, port });
      close = () => socket.destroy();
      let buf = Buffer.alloc(0);
      socket.on('connect', () =>
        socket.write(Buffer.concat([Buffer.from([packet.length >> 8, packet.length & 255]), packet])),
      );
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(undefined, answerOf(buf.subarray(2)));
      });
      socket.on('error', (err) => finish(err));
    } else {
      const socket = dgram.createSocket('udp4');
      close = () => socket.close();
      socket.on('message', (msg) => finish(undefined, answerOf(msg)));
      socket.on('error', (err) => finish(err));
      socket.send(packet, port, server);
    }
  });
}

/** An upstream resolver on 127.0.0.1 (UDP and TCP, one port): `records` by name, NXDOMAIN otherwise. */
export async function fakeUpstream(
  records: Record<string, string>,
): Promise<{ port: number; close(): Promise<void> }> {
  const reply = (msg: Buffer): Buffer => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    const address = question && records[question.name.toLowerCase()];
    const found = address !== undefined;
    return dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.RECURSION_AVAILABLE | (found ? 0 : 3),
      questions: q.questions ?? [],
      answers: found && question?.type === 'A' ? [{ type: 'A', name: question!.name, ttl: 60, data: address }] : [],
    });
  };
  const tcp = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const out = reply(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        socket.write(Buffer.concat([Buffer.from([out.length >> 8, out.length & 255]), out]));
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as net.AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, from) => udp.send(reply(msg), from.port, from.address));
  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
