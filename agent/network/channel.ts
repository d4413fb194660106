// A FrameChannel over one libp2p stream: length-prefixed frames (it-length-prefixed-stream)
// no larger than the channel's maxFrameBytes, under one deadline for the whole channel, or,
// for a long-lived channel (limits.idleMs), one that every frame pushes back. The deadline
// aborts the stream, which fails whatever read or write is pending (no abort signal rides
// on every frame: each would allocate an error and a listener). A failed read or write
// aborts the stream too, so a broken exchange does not hold a stream slot of the peer's
// until its own deadline. The stream sends yamux window updates only once its window is
// half drained: its muxer sees to that (window-updates.ts). Only agent/network sees the
// libp2p Stream.

import type { Stream } from '@libp2p/interface'
import { lpStream } from 'it-length-prefixed-stream'
import type { ChannelLimits, FrameChannel } from '../transport.js'

/**
 * streamChannel wraps `stream`. It is aborted when `deadline` fires (a fixed deadline, e.g.
 * one that also covered opening the stream), or with limits.idleMs, after that long
 * without a frame read or written.
 */
export function streamChannel(stream: Stream, limits: ChannelLimits, deadline?: AbortSignal): FrameChannel {
  const lp = lpStream(stream, { maxDataLength: limits.maxFrameBytes })
  let failure: Error | undefined
  const expire = (why: string): void => {
    failure ??= new Error(why)
    stream.abort(failure)
  }
  let timer: NodeJS.Timeout | undefined
  const idleMs = limits.idleMs
  const arm = (): void => {
    if (idleMs === undefined) return
    clearTimeout(timer)
    timer = setTimeout(() => expire(`channel idle for ${idleMs} ms`), idleMs)
    timer.unref()
  }
  const onDeadline = (): void => expire(`channel deadline of ${limits.timeoutMs} ms passed`)
  if (idleMs === undefined) {
    if (deadline?.aborted === true) onDeadline()
    deadline?.addEventListener('abort', onDeadline, { once: true })
  }
  arm()
  const done = (): void => {
    clearTimeout(timer)
    deadline?.removeEventListener('abort', onDeadline)
  }
  const abort = (err: unknown): never => {
    done()
    const e = failure ?? (err instanceof Error ? err : new Error(String(err)))
    stream.abort(e)
    throw e
  }
  let closed = false
  return {
    async write(frame) {
      try {
        arm()
        await lp.write(frame)
      } catch (err) {
        abort(err)
      }
    },
    async read() {
      try {
        const frame = (await lp.read()).subarray()
        arm()
        return frame
      } catch (err) {
        return abort(err)
      }
    },
    async close() {
      if (closed) return
      closed = true
      try {
        await stream.close()
        done()
      } catch (err) {
        abort(err)
      }
    },
  }
}
