/**
 * A container's output as Docker streams it (`GET /containers/{id}/logs` with timestamps, no TTY):
 * frames of an 8-byte header (stream, 3 zero bytes, length) and a payload, each line of which
 * starts with an RFC 3339 time. Turned into lines, stdout and stderr kept apart, as they come:
 * at most one frame and one unfinished line per stream are held, never the whole log.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  atMs: number;
  text: string;
}

/** A longer line is cut into pieces of this many characters. */
export const MAX_LINE = 16 * 1024;
const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) /;

export class DockerLogLines extends Transform {
  #pending = Buffer.alloc(0);
  readonly #partial = { stdout: '', stderr: '' };

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 64 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = STREAMS[buf[0] as 1 | 2] ?? 'stdout';
      this.#text(stream, buf.subarray(8, 8 + size).toString('utf8'));
      buf = buf.subarray(8 + size);
    }
    this.#pending = Buffer.from(buf);
    done();
  }

  override _flush(done: TransformCallback): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#line(stream, this.#partial[stream]);
      this.#partial[stream] = '';
    }
    done();
  }

  #text(stream: 'stdout' | 'stderr', text: string): void {
    const lines = (this.#partial[stream] + text).split('\n');
    this.#partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.#line(stream, line);
    // A line with no end in sight goes out in pieces.
    while (this.#partial[stream].length > MAX_LINE) {
      this.#line(stream, this.#partial[stream].slice(0, MAX_LINE));
      this.#partial[stream] = this.#partial[stream].slice(MAX_LINE);
    }
  }

  /** `2026-12-02T10:00:00.123456789Z text` → the time and the text (a line's later pieces have no time). */
  #line(stream: 'stdout' | 'stderr', raw: string): void {
    const stamp = TIMESTAMP.exec(raw);
    const at = stamp ? Date.parse(stamp[1]!) : NaN;
    const text = stamp && !Number.isNaN(at) ? raw.slice(stamp[0].length) : raw;
    const atMs = Number.isNaN(at) ? Date.now() : at;
    for (let i = 0; i < Math.max(1, text.length); i += MAX_LINE)
      this.push({ stream, atMs, text: text.slice(i, i + MAX_LINE) });
  }
}
