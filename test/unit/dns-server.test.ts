import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DnsServer, type DnsServerOptions } from '@warren/worker';

const logger = pino({ level: 'silent' });
const HOST = '127.0.0.1';
/** A test that hangs (an answer that never comes) fails instead. */
const LIMIT = { timeout: 15_000 };
/** How long a client waits for a reply before the test fails. */
const REPLY_MS = 5000;

type Question = dnsPacket.Question;

function encodeQuery(id: number, name: string, type: Question['type'] = 'A', edns = false): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as dnsPacket.Answer] : [],
  });
}

function rcode(reply: Buffer): number {
  return reply.readUInt16BE(2) & 0xf;
}

/** A reply, decoded into what the tests look at. */
interface Reply {
  id: number;
  rcode: string;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  questions: Question[];
  answers: Array<{ name: string; type: string; class: string | undefined; ttl: number | undefined; data: string }>;
  /** The types of the additional records. */
  additionals: string[];
}

function decode(reply: Buffer): Reply {
  const p = dnsPacket.decode(reply) as dnsPacket.DecodedPacket & { rcode: string };
  const answers = (p.answers ?? []) as dnsPacket.StringAnswer[];
  return {
    id: p.id!,
    rcode: p.rcode,
    aa: p.flag_aa,
    tc: p.flag_tc,
    rd: p.flag_rd,
    ra: p.flag_ra,
    questions: p.questions ?? [],
    answers: answers.map((a) => ({ name: a.name, type: a.type, class: a.class, ttl: a.ttl, data: a.data })),
    additionals: (p.additionals ?? []).map((a) => a.type),
  };
}

/** The addresses of a reply's answers, in order. */
const addressesOf = (reply: Reply): string[] => reply.answers.map((a) => a.data);

/** A resolver of the test's own: `outside.test` is 127.0.0.9, `servfail.test` fails, others do not exist. */
function upstreamAnswer(query: Buffer, mode: 'answer' | 'servfail'): Buffer {
  const q = dnsPacket.decode(query);
  const question = q.questions![0]!;
  const base = { type: 'response' as const, id: q.id, questions: [question] };
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE;
  if (mode === 'answer' && question.name === 'outside.test' && question.type === 'A') {
    return dnsPacket.encode({
      ...base,
      flags,
      answers: [{ type: 'A', name: question.name, ttl: 60, data: '127.0.0.9' }],
    });
  }
  return dnsPacket.encode({
    ...base,
    flags: flags | (mode === 'servfail' || question.name === 'servfail.test' ? 2 : 3),
  });
}

interface FakeUpstream {
  port: number;
  /** Emits 'query' for every query it gets, 'closed' when a TCP connection closes. */
  events: EventEmitter;
  /** The ids of the queries it got, by transport. */
  udpIds: number[];
  tcpIds: number[];
}

/** A UDP socket and a TCP server on one port; 'silent' never answers, 'servfail' always answers SERVFAIL. */
async function fakeUpstream(t: TestContext, mode: 'answer' | 'silent' | 'servfail' = 'answer'): Promise<FakeUpstream> {
  const fake: FakeUpstream = { port: 0, events: new EventEmitter(), udpIds: [], tcpIds: [] };
  const connections = new Set<Socket>();
  const tcp = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => fake.events.emit('closed'));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        fake.tcpIds.push(message.readUInt16BE(0));
        fake.events.emit('query');
        if (mode !== 'silent') socket.write(frame(upstreamAnswer(message, mode)));
      }
    });
  });
  const udp = await bindBoth(tcp);
  fake.port = udp.address().port;
  udp.on('message', (message, client) => {
    fake.udpIds.push(message.readUInt16BE(0));
    fake.events.emit('query');
    if (mode !== 'silent') udp.send(upstreamAnswer(message, mode), client.port, client.address);
  });
  t.after(async () => {
    udp.close();
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  });
  return fake;
}

/** Makes `tcp` listen on a port that is free for UDP too, and a UDP socket bound to it. */
async function bindBoth(tcp: Server): Promise<dgram.Socket> {
  for (let tries = 1; ; tries++) {
    await listen(tcp, 0);
    const udp = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind((tcp.address() as { port: number }).port, HOST, () => resolve());
      });
      return udp;
    } catch (err) {
      udp.close();
      await new Promise((resolve) => tcp.close(resolve));
      if (tries === 5) throw err;
    }
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve());
  });
}

/** A port nothing listens on (UDP or TCP) just now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server, 0);
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function dnsServer(t: TestContext, options: Partial<DnsServerOptions> = {}): Promise<DnsServer> {
  const server = new DnsServer({ host: HOST, port: 0, upstreams: [], resolve: () => undefined, logger, ...options });
  t.after(() => server.stop());
  await server.start();
  return server;
}

function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** What `start` resolves, or a rejection when it has not within REPLY_MS. */
async function within<T>(what: string, start: (resolve: (value: T) => void, reject: (err: Error) => void) => void) {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${REPLY_MS} ms`)), REPLY_MS);
      start(resolve, reject);
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `message` over UDP and resolves the first reply. */
async function askUdp(server: DnsServer, message: Buffer): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await within<Buffer>('a UDP reply', (resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', resolve);
      socket.send(message, server.address.port, HOST);
    });
  } finally {
    socket.close();
  }
}

/** Sends `messages` in one TCP write and resolves the replies by id; rejects if the server closes first. */
async function askTcp(server: DnsServer, messages: Buffer[]): Promise<Map<number, Buffer>> {
  const socket = connect(server.address.port, HOST);
  const replies = new Map<number, Buffer>();
  try {
    return await within<Map<number, Buffer>>('TCP replies', (resolve, reject) => {
      let buffered = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`closed after ${replies.size} replies`)));
      socket.on('connect', () => socket.write(Buffer.concat(messages.map(frame))));
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const reply = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + reply.length);
          replies.set(reply.readUInt16BE(0), reply);
        }
        if (replies.size === messages.length) resolve(replies);
      });
    });
  } finally {
    socket.destroy();
  }
}

/** Resolves once the server closes the connection after `message`; rejects on a reply or a timeout. */
async function closedAfter(server: DnsServer, message: Buffer): Promise<void> {
  const socket = connect(server.address.port, HOST);
  try {
    await within<void>('a close', (resolve, reject) => {
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write(message));
      socket.on('data', () => reject(new Error('a reply instead of a close')));
      socket.on('close', () => resolve());
    });
  } finally {
    socket.destroy();
  }
}

const WARREN: Record<string, readonly string[]> = {
  web: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
  'tasks.web': ['10.0.1.1', '10.0.1.2'],
  idle: [],
};
const resolveWarren = (name: string) => WARREN[name];

test('a Warren name is answered with its addresses, authoritatively, TTL 0, in turn', LIMIT, async (t) => {
  const asked: string[] = [];
  const upstream = await fakeUpstream(t);
  const server = await dnsServer(t, {
    upstreams: [`${HOST}:${upstream.port}`],
    resolve: (name) => (asked.push(name), resolveWarren(name)),
  });
  const first = decode(await askUdp(server, encodeQuery(7, 'Tasks.WEB.')));
  assert.equal(first.id, 7);
  assert.deepEqual(asked, ['tasks.web']);
  assert.equal(first.rcode, 'NOERROR');
  assert.ok(first.aa && first.rd && first.ra && !first.tc, 'AA, RD and RA set');
  assert.deepEqual(first.questions, [{ name: 'Tasks.WEB', type: 'A', class: 'IN' }]);
  for (const a of first.answers) assert.deepEqual([a.name, a.type, a.class, a.ttl], ['Tasks.WEB', 'A', 'IN', 0]);
  assert.deepEqual(addressesOf(first).sort(), ['10.0.1.1', '10.0.1.2']);
  const second = decode(await askUdp(server, encodeQuery(8, 'tasks.web')));
  assert.deepEqual(addressesOf(second).sort(), ['10.0.1.1', '10.0.1.2']);
  assert.notDeepEqual(addressesOf(second), addressesOf(first), 'the order rotates');
  const firsts = new Set<string>();
  for (let id = 0; id < 3; id++) firsts.add(addressesOf(decode(await askUdp(server, encodeQuery(id, 'web'))))[0]!);
  assert.equal(firsts.size, 3, 'each address comes first in turn');
  assert.deepEqual(upstream.udpIds, [], 'nothing forwarded');
});

test(
  'other types for a Warren name, and a name with no address now, are NOERROR with no answers',
  LIMIT,
  async (t) => {
    const server = await dnsServer(t, { resolve: resolveWarren });
    for (const [name, type] of [
      ['web', 'AAAA'],
      ['web', 'MX'],
      ['tasks.web', 'TXT'],
      ['idle', 'A'],
    ] as const) {
      const reply = decode(await askUdp(server, encodeQuery(3, name, type)));
      assert.equal(reply.rcode, 'NOERROR', `${name} ${type}`);
      assert.ok(reply.aa, `${name} ${type} is authoritative`);
      assert.ok(!reply.ra, 'no upstreams, no recursion');
      assert.deepEqual(reply.answers, [], `${name} ${type}`);
      assert.deepEqual(reply.questions, [{ name, type, class: 'IN' }]);
    }
  },
);

test('other names are forwarded over UDP and over TCP, and the reply keeps the client id', LIMIT, async (t) => {
  const upstream = await fakeUpstream(t);
  const server = await dnsServer(t, { upstreams: [`${HOST}:${upstream.port}`], resolve: resolveWarren });
  const udp = decode(await askUdp(server, encodeQuery(4242, 'outside.test')));
  assert.equal(udp.id, 4242);
  assert.deepEqual(
    udp.answers.map((a) => [a.name, a.data, a.ttl]),
    [['outside.test', '127.0.0.9', 60]],
  );
  assert.equal(upstream.udpIds.length, 1);
  const tcp = await askTcp(server, [encodeQuery(4243, 'outside.test')]);
  const reply = decode(tcp.get(4243)!);
  assert.deepEqual(
    reply.answers.map((a) => a.data),
    ['127.0.0.9'],
  );
  assert.equal(upstream.tcpIds.length, 1, 'TCP went out over TCP');
  assert.equal(upstream.udpIds.length, 1);
  const nx = await askUdp(server, encodeQuery(9, 'nowhere.test', 'AAAA'));
  assert.equal(decode(nx).rcode, 'NXDOMAIN', 'NXDOMAIN passed through');
  assert.equal(nx.readUInt16BE(0), 9);
});

test('dead upstreams are passed over for the next; when all fail the client gets SERVFAIL', LIMIT, async (t) => {
  const silent = await fakeUpstream(t, 'silent');
  const live = await fakeUpstream(t);
  const failing = await fakeUpstream(t, 'servfail');
  const closed = await closedPort();
  const upstreams = [`${HOST}:${silent.port}`, `${HOST}:${closed}`, `${HOST}:${failing.port}`, `${HOST}:${live.port}`];
  const server = await dnsServer(t, { upstreams, upstreamTimeoutMs: 200, resolve: resolveWarren });
  const started = Date.now();
  const udp = decode(await askUdp(server, encodeQuery(1, 'outside.test')));
  assert.deepEqual(
    udp.answers.map((a) => a.data),
    ['127.0.0.9'],
  );
  assert.ok(Date.now() - started >= 190, 'the silent upstream had its time');
  const tcp = await askTcp(server, [encodeQuery(2, 'outside.test')]);
  assert.deepEqual(
    decode(tcp.get(2)!).answers.map((a) => a.data),
    ['127.0.0.9'],
  );
  assert.deepEqual([silent.udpIds.length, silent.tcpIds.length], [1, 1], 'the silent one was asked');
  assert.deepEqual([failing.udpIds.length, failing.tcpIds.length], [1, 1], 'the failing one was asked');
  const servfail = decode(await askUdp(server, encodeQuery(3, 'servfail.test')));
  assert.equal(servfail.rcode, 'SERVFAIL');
  assert.equal(live.udpIds.length, 2);

  const dead = await dnsServer(t, {
    upstreams: upstreams.slice(0, 3),
    upstreamTimeoutMs: 200,
    resolve: resolveWarren,
  });
  for (const reply of [
    await askUdp(dead, encodeQuery(5, 'outside.test')),
    (await askTcp(dead, [encodeQuery(6, 'outside.test')])).get(6)!,
  ]) {
    const decoded = decode(reply);
    assert.equal(decoded.rcode, 'SERVFAIL');
    assert.ok(decoded.ra && !decoded.aa);
    assert.deepEqual(decoded.questions, [{ name: 'outside.test', type: 'A', class: 'IN' }]);
  }
  const none = await dnsServer(t, { upstreams: [] });
  assert.equal(decode(await askUdp(none, encodeQuery(7, 'outside.test'))).rcode, 'SERVFAIL');
});

test('an upstream that is the server itself is skipped', LIMIT, async (t) => {
  const live = await fakeUpstream(t);
  const port = await closedPort();
  const upstreams = [`${HOST}:${port}`, `${HOST}:${live.port}`];
  const server = await dnsServer(t, { port, upstreams, upstreamTimeoutMs: 3000 });
  const started = Date.now();
  const reply = decode(await askUdp(server, encodeQuery(1, 'outside.test')));
  // Asking itself would wait 3000 ms for its own answer first, and send the query round and round.
  assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
  assert.equal(live.udpIds.length, 1);
  assert.deepEqual(
    reply.answers.map((a) => a.data),
    ['127.0.0.9'],
  );
});

test('pipelined TCP queries in one write are all answered', LIMIT, async (t) => {
  const upstream = await fakeUpstream(t);
  const server = await dnsServer(t, { upstreams: [`${HOST}:${upstream.port}`], resolve: resolveWarren });
  const replies = await askTcp(server, [encodeQuery(11, 'outside.test'), encodeQuery(12, 'web')]);
  assert.deepEqual(
    decode(replies.get(11)!).answers.map((a) => a.data),
    ['127.0.0.9'],
  );
  assert.equal(decode(replies.get(12)!).answers.length, 3);
});

test('malformed messages do not stop the server', LIMIT, async (t) => {
  const server = await dnsServer(t, { resolve: resolveWarren });
  const udp = dgram.createSocket('udp4');
  t.after(() => udp.close());
  const noQuestion = Buffer.alloc(12);
  noQuestion.writeUInt16BE(77, 0);
  const response = encodeQuery(78, 'web');
  response[2]! |= 0x80;
  const cut = encodeQuery(79, 'web').subarray(0, 20);
  for (const junk of [Buffer.from('hello'), Buffer.alloc(0), response, Buffer.alloc(300, 0xff)]) {
    udp.send(junk, server.address.port, HOST);
  }
  for (const [message, id] of [
    [noQuestion, 77],
    [cut, 79],
  ] as const) {
    const reply = await askUdp(server, message);
    assert.deepEqual([reply.readUInt16BE(0), rcode(reply)], [id, 1], 'FORMERR');
  }
  const update = encodeQuery(80, 'web');
  update[2]! |= 5 << 3;
  assert.equal(rcode(await askUdp(server, update)), 4, 'NOTIMP for an UPDATE');
  const tcpFormerr = await askTcp(server, [noQuestion]);
  assert.equal(rcode(tcpFormerr.get(77)!), 1);
  await closedAfter(server, frame(Buffer.from('hello')));
  await closedAfter(server, Buffer.from([0, 0]));
  const after = decode(await askUdp(server, encodeQuery(81, 'web')));
  assert.equal(after.answers.length, 3, 'still answering');
});

test('a UDP answer over 512 bytes is cut and flagged TC; over TCP it is whole', LIMIT, async (t) => {
  const many = Array.from({ length: 60 }, (_, i) => `10.1.0.${i + 1}`);
  const server = await dnsServer(t, { resolve: (name) => (name === 'big' ? many : undefined) });
  const udp = await askUdp(server, encodeQuery(1, 'big'));
  const cut = decode(udp);
  assert.ok(udp.length <= 512, `${udp.length} bytes`);
  assert.ok(cut.tc, 'TC');
  assert.ok(cut.answers.length > 10 && cut.answers.length < 60, `${cut.answers.length} answers`);
  const edns = await askUdp(server, encodeQuery(2, 'big', 'A', true));
  const bigger = decode(edns);
  assert.ok(edns.length > 512 && edns.length <= 1232, `${edns.length} bytes with EDNS`);
  assert.equal(bigger.answers.length, 60);
  assert.deepEqual(bigger.additionals, ['OPT']);
  const whole = decode((await askTcp(server, [encodeQuery(3, 'big')])).get(3)!);
  assert.ok(!whole.tc);
  assert.equal(whole.answers.length, 60);
});

test('start on a port taken rejects in words and leaves nothing bound', LIMIT, async (t) => {
  const first = await dnsServer(t);
  const second = new DnsServer({
    host: HOST,
    port: first.address.port,
    upstreams: [],
    resolve: () => undefined,
    logger,
  });
  await assert.rejects(second.start(), {
    message: `cannot listen on ${HOST}:${first.address.port}: address already in use`,
  });
  await second.stop();

  const udpTaken = dgram.createSocket('udp4');
  const port = await closedPort();
  await new Promise<void>((resolve) => udpTaken.bind(port, HOST, () => resolve()));
  t.after(() => udpTaken.close());
  const third = new DnsServer({ host: HOST, port, upstreams: [], resolve: () => undefined, logger });
  await assert.rejects(third.start(), { message: `cannot listen on ${HOST}:${port}: address already in use` });
  const tcp = createServer();
  await listen(tcp, port);
  await new Promise((resolve) => tcp.close(resolve));
});

test('queries are counted by answer; stop abandons forwards and is idempotent', LIMIT, async (t) => {
  const registry = new Registry();
  const silent = await fakeUpstream(t, 'silent');
  const upstream = await fakeUpstream(t);
  const upstreams = [`${HOST}:${upstream.port}`];
  const server = await dnsServer(t, { upstreams, resolve: resolveWarren, registry });
  await askUdp(server, encodeQuery(1, 'web'));
  await askUdp(server, encodeQuery(2, 'outside.test'));
  await askUdp(server, encodeQuery(3, 'servfail.test'));
  const text = await registry.metrics();
  for (const answer of ['warren', 'forwarded', 'failed']) {
    assert.match(text, new RegExp(`warren_dns_queries_total\\{answer="${answer}"\\} 1\\n`));
    assert.match(text, new RegExp(`warren_dns_answer_seconds_count\\{answer="${answer}"\\} 1\\n`));
  }
  assert.match(text, /warren_dns_answer_seconds_bucket\{le="0.0005",answer="warren"\}/);

  const stuck = await dnsServer(t, { upstreams: [`${HOST}:${silent.port}`], upstreamTimeoutMs: 60_000 });
  const queried = once(silent.events, 'query');
  const reply = askTcp(stuck, [encodeQuery(4, 'outside.test')]);
  await queried;
  const abandoned = once(silent.events, 'closed');
  const closed = assert.rejects(reply, /closed after 0 replies/);
  await Promise.all([stuck.stop(), stuck.stop()]);
  await within('the forward abandoned', (resolve) => void abandoned.then(resolve));
  await closed;
  await stuck.stop();
});

test('upstreams are read as ip, ip:port, [v6]:port or bare v6; anything else is refused', () => {
  const options = { host: HOST, resolve: () => undefined, logger };
  const good = ['10.0.0.1', '10.0.0.1:5353', '[::1]:5353', '[fd00::1]', '::1', 'fe80::1:53'];
  assert.doesNotThrow(() => new DnsServer({ ...options, upstreams: good }));
  for (const bad of ['resolver.example', '10.0.0.1:0', '10.0.0.1:70000', '[10.0.0.1]:53', '', '[::1]:x']) {
    assert.throws(() => new DnsServer({ ...options, upstreams: [bad] }), /DNS server: upstream/, bad);
  }
  assert.throws(() => new DnsServer({ ...options, upstreamTimeoutMs: 0 }), /upstreamTimeoutMs/);
});
