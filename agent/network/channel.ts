// A FrameChannel over one libp2p stream: length-prefixed frames (it-length-prefixed-stream)
// no larger than the channel's maxFrameBytes, and one deadline for the whole channel.
// A failed read or write aborts the stream, so a broken exchange does not hold a stream
// slot of the peer's until its own deadline. Only agent/network sees the libp2p Stream.

import type { Stream } from '@libp2p/interface'
import { lpStream } from 'it-length-prefixed-stream'
import type { ChannelLimits, FrameChannel } from '../transport.js'

/** streamChannel wraps `stream`; every operation on it fails once `deadline` has fired. */
export function streamChannel(stream: Stream, limits: ChannelLimits, deadline: AbortSignal): FrameChannel {
  const lp = lpStream(stream, { maxDataLength: limits.maxFrameBytes })
  let closed = false
  const abort = (err: unknown): never => {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
  return {
    async write(frame) {
      try {
        await lp.write(frame, { signal: deadline })
      } catch (err) {
        abort(err)
      }
    },
    async read() {
      try {
        return (await lp.read({ signal: deadline })).subarray()
      } catch (err) {
        return abort(err)
      }
    },
    async close() {
      if (closed) return
      closed = true
      try {
        await stream.close({ signal: deadline })
      } catch (err) {
        abort(err)
      }
    },
  }
}
