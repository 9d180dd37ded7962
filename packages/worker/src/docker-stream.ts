/**
 * Docker's multiplexed stream of a container or exec without a TTY: frames of an 8-byte header
 * (stream type, 3 zero bytes, payload length big-endian) followed by the payload. Returns
 * stdout and stderr interleaved as written; an incomplete last frame is cut off.
 */
export function demuxDockerStream(raw: Buffer): string {
  const parts: string[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, Math.min(raw.length, at + 8 + size)).toString('utf8'));
    at += 8 + size;
  }
  return parts.join('');
}
