// Docker's multiplexed output (a non-TTY container's logs and attached execs): frames of an
// 8-byte header (stream type, 3 zero bytes, big-endian length) and that many bytes. A TTY's
// output is raw, all stdout. Split into chunks no larger than `maxChunk`.

import type { OutputChunk } from './runtime.js'

/** demux yields the chunks of a multiplexed (tty false) or raw (tty true) byte stream. */
export async function* demux(source: AsyncIterable<Uint8Array>, tty: boolean, maxChunk: number): AsyncGenerator<OutputChunk> {
  if (tty) {
    for await (const b of source) for (let i = 0; i < b.length; i += maxChunk) yield { stream: 'stdout', data: b.subarray(i, i + maxChunk) }
    return
  }
  let buf = Buffer.alloc(0)
  let stream: OutputChunk['stream'] = 'stdout'
  let left = 0
  for await (const b of source) {
    buf = buf.length === 0 ? Buffer.from(b) : Buffer.concat([buf, b])
    for (;;) {
      if (left === 0) {
        if (buf.length < 8) break
        // Type 1 is stdout, 2 stderr (0, stdin, is never sent back).
        stream = buf[0] === 2 ? 'stderr' : 'stdout'
        left = buf.readUInt32BE(4)
        buf = buf.subarray(8)
        continue
      }
      if (buf.length === 0) break
      const n = Math.min(left, buf.length, maxChunk)
      yield { stream, data: buf.subarray(0, n) }
      buf = buf.subarray(n)
      left -= n
    }
  }
}
