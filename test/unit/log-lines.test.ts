import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DockerLogLines, MAX_LINE, type OutputLine } from '@warren/worker';

/** One frame of Docker's multiplexed stream. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function lines(chunks: Buffer[]): Promise<OutputLine[]> {
  const out: OutputLine[] = [];
  for await (const line of Readable.from(chunks).pipe(new DockerLogLines())) out.push(line as OutputLine);
  return out;
}

test('frames cut anywhere become lines, stdout and stderr apart, with their times', async () => {
  const raw = Buffer.concat([
    frame(1, '2026-12-02T10:00:00.123456789Z hello\n2026-12-02T10:00:01Z wor'),
    frame(2, '2026-12-02T10:00:02Z oops\n'),
    frame(1, 'ld\n'),
  ]);
  // Cut into 3-byte pieces: headers and payloads split across chunks.
  const pieces: Buffer[] = [];
  for (let i = 0; i < raw.length; i += 3) pieces.push(raw.subarray(i, i + 3));
  assert.deepEqual(await lines(pieces), [
    { stream: 'stdout', atMs: Date.parse('2026-12-02T10:00:00.123Z'), text: 'hello' },
    { stream: 'stderr', atMs: Date.parse('2026-12-02T10:00:02Z'), text: 'oops' },
    { stream: 'stdout', atMs: Date.parse('2026-12-02T10:00:01Z'), text: 'world' },
  ]);
});

test('a line without an end is sent in pieces, never held whole; an unfinished last line is flushed', async () => {
  const long = 'x'.repeat(MAX_LINE * 2 + 10);
  const out = await lines([frame(1, `2026-12-02T10:00:00Z ${long}`), frame(1, 'y'.repeat(5))]);
  assert.deepEqual(
    out.map((l) => l.text.length),
    [MAX_LINE - 21, MAX_LINE, 36],
  );
  assert.equal(out.map((l) => l.text).join(''), `${long}yyyyy`);
});
