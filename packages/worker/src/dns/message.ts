import dnsPacket from 'dns-packet';

/** Response codes (RFC 1035, 4.1.1) the server sends or looks at. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NOTIMP: 4, REFUSED: 5 } as const;

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const OPCODE = 0x7800;
const HEADER = 12;
export const TYPE_A = 1;
const TYPE_OPT = 41;
export const CLASS_IN = 1;
/** An A record whose name points at the question's (0xc00c): 2 + type, class, TTL, length + 4. */
const A_RECORD = 16;
/** An OPT record with no options: root name, type, payload size, TTL (flags), length. */
const OPT_RECORD = 11;

/** The largest UDP reply to a client that sent no EDNS OPT record (RFC 1035, 4.2.1). */
const UDP_CLASSIC = 512;
/** The largest UDP reply offered to an EDNS client: the DNS flag day 2020 size, which avoids fragments. */
const EDNS_PAYLOAD = 1232;
/** The largest message a TCP frame carries. */
export const TCP_LIMIT = 0xffff;

/** A query the server can answer or forward. */
export interface Query {
  id: number;
  /** The client's RD flag, echoed in the reply. */
  rd: boolean;
  /** The question section as received: replies repeat it byte for byte, the client's casing included. */
  question: Buffer;
  /** The name as asked, without the trailing dot ('' for the root). */
  name: string;
  type: number;
  klass: number;
  /** The UDP payload size of the client's EDNS OPT record, when it sent one. */
  ednsPayload: number | undefined;
}

/** What a received message is: a query, one to answer with an error code, or one to ignore. */
export type Parsed =
  { kind: 'query'; query: Query } | { kind: 'error'; reply: Buffer; why: string } | { kind: 'drop'; why: string };

/**
 * Reads a query. Messages that are not queries (responses, shorter than a header) are dropped:
 * answering a response could start a loop between two servers. Queries the server cannot read
 * get FORMERR, other opcodes than QUERY get NOTIMP (RFC 1035, 4.1.1).
 */
export function parseQuery(message: Buffer): Parsed {
  if (message.length < HEADER) return { kind: 'drop', why: 'shorter than a DNS header' };
  const flags = message.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop', why: 'a response, not a query' };
  const error = (rcode: number, why: string): Parsed => ({ kind: 'error', reply: headerOnly(message, rcode), why });
  if (flags & OPCODE) return error(RCODE.NOTIMP, `opcode ${(flags & OPCODE) >> 11}, not QUERY`);
  if (message.readUInt16BE(4) !== 1) return error(RCODE.FORMERR, `${message.readUInt16BE(4)} questions, not 1`);
  const nameEnd = skipName(message, HEADER);
  if (nameEnd === undefined || nameEnd + 4 > message.length) return error(RCODE.FORMERR, 'unreadable question');
  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(message);
  } catch (err) {
    return error(RCODE.FORMERR, `undecodable: ${(err as Error).message}`);
  }
  const opt = decoded.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
  const name = decoded.questions?.[0]?.name ?? '.';
  const query: Query = {
    id: message.readUInt16BE(0),
    rd: (flags & RD) !== 0,
    question: Buffer.from(message.subarray(HEADER, nameEnd + 4)),
    name: name === '.' ? '' : name.replace(/\.$/, ''),
    type: message.readUInt16BE(nameEnd),
    klass: message.readUInt16BE(nameEnd + 2),
    ednsPayload: opt?.udpPayloadSize,
  };
  return { kind: 'query', query };
}

/** Where the uncompressed name at `offset` ends, or undefined when it runs past the message or points. */
function skipName(message: Buffer, offset: number): number | undefined {
  for (let at = offset; at < message.length;) {
    const length = message[at]!;
    if (length === 0) return at + 1;
    if (length & 0xc0) return undefined;
    at += length + 1;
  }
  return undefined;
}

/** The largest reply to `query` over UDP: 512 bytes, or what the client's EDNS record offers, up to 1232. */
export function udpLimit(query: Query): number {
  if (query.ednsPayload === undefined) return UDP_CLASSIC;
  return Math.min(Math.max(query.ednsPayload, UDP_CLASSIC), EDNS_PAYLOAD);
}

export interface AnswerOptions {
  /** Whether recursion is available: the server has upstreams. */
  ra: boolean;
  /** The size the reply must fit in: answers that do not fit are dropped and TC set. */
  limit: number;
}

/**
 * The authoritative answer for a name Warren owns: one A record per address (TTL 0, so that
 * clients ask again and see the addresses of now) for a type A question, none for other types.
 * The records' names point at the question's, which keeps the client's casing and the size down.
 */
export function answer(query: Query, addresses: readonly string[], options: AnswerOptions): Buffer {
  const records = query.type === TYPE_A && query.klass === CLASS_IN ? addresses : [];
  const fixed = HEADER + query.question.length + (query.ednsPayload === undefined ? 0 : OPT_RECORD);
  const fits = Math.max(0, Math.floor((options.limit - fixed) / A_RECORD));
  const count = Math.min(records.length, fits);
  const flags = AA | (count < records.length ? TC : 0) | (options.ra ? RA : 0);
  const reply = reply0(query, flags, RCODE.NOERROR, count);
  let at = HEADER + query.question.length;
  for (const address of records.slice(0, count)) {
    at = reply.writeUInt16BE(0xc000 | HEADER, at);
    at = reply.writeUInt16BE(TYPE_A, at);
    at = reply.writeUInt16BE(CLASS_IN, at);
    at = reply.writeUInt32BE(0, at);
    at = reply.writeUInt16BE(4, at);
    for (const part of address.split('.')) at = reply.writeUInt8(Number(part), at);
  }
  return reply;
}

/** A reply with `rcode` and no records, e.g. SERVFAIL when no upstream answered. */
export function failure(query: Query, rcode: number, ra: boolean): Buffer {
  return reply0(query, ra ? RA : 0, rcode, 0);
}

/** A reply to `query` with room for `answers` A records, of which the header and question are written. */
function reply0(query: Query, flags: number, rcode: number, answers: number): Buffer {
  const edns = query.ednsPayload !== undefined;
  const reply = Buffer.alloc(HEADER + query.question.length + answers * A_RECORD + (edns ? OPT_RECORD : 0));
  reply.writeUInt16BE(query.id, 0);
  reply.writeUInt16BE(QR | flags | (query.rd ? RD : 0) | rcode, 2);
  reply.writeUInt16BE(1, 4);
  reply.writeUInt16BE(answers, 6);
  reply.writeUInt16BE(edns ? 1 : 0, 10);
  query.question.copy(reply, HEADER);
  if (edns) {
    // An EDNS query gets an OPT record back (RFC 6891, 7): root name, type, our payload size, no flags.
    const at = reply.length - OPT_RECORD + 1;
    reply.writeUInt16BE(TYPE_OPT, at);
    reply.writeUInt16BE(EDNS_PAYLOAD, at + 2);
  }
  return reply;
}

/** A reply with `rcode` and the query's header only, for a query whose question cannot be read. */
function headerOnly(message: Buffer, rcode: number): Buffer {
  const reply = Buffer.alloc(HEADER);
  reply.writeUInt16BE(message.readUInt16BE(0), 0);
  reply.writeUInt16BE(QR | (message.readUInt16BE(2) & (OPCODE | RD)) | rcode, 2);
  return reply;
}

/** The response code of a reply. */
export function rcodeOf(reply: Buffer): number {
  return reply.readUInt16BE(2) & 0x000f;
}

/** Whether `reply` is a response whose id is `id`. */
export function answers(reply: Buffer, id: number): boolean {
  return reply.length >= HEADER && reply.readUInt16BE(0) === id && (reply.readUInt16BE(2) & QR) !== 0;
}
