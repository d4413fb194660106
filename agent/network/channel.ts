// A FrameChannel over one libp2p stream: length-prefixed frames (it-length-prefixed-stream)
// no larger than the channel's maxFrameBytes, under one deadline for the whole channel, or,
// for a long-lived channel (limits.idleMs), one that every frame pushes back. A failed read
// or write aborts the stream, so a broken exchange does not hold a stream slot of the
// peer's until its own deadline. Only agent/network sees the libp2p Stream.

import type { Stream } from '@libp2p/interface'
import { lpStream } from 'it-length-prefixed-stream'
import type { ChannelLimits, FrameChannel } from '../transport.js'

/** Deadline is when a channel gives up: a fixed signal, or an idle timer that touch() restarts. */
interface Deadline {
  signal: AbortSignal
  touch(): void
  cancel(): void
}

function fixed(signal: AbortSignal): Deadline {
  return { signal, touch: () => undefined, cancel: () => undefined }
}

function idle(ms: number): Deadline {
  const ctl = new AbortController()
  const fire = (): void => ctl.abort(new Error(`channel idle for ${ms} ms`))
  let timer = setTimeout(fire, ms)
  timer.unref()
  return {
    signal: ctl.signal,
    touch() {
      clearTimeout(timer)
      if (ctl.signal.aborted) return
      timer = setTimeout(fire, ms)
      timer.unref()
    },
    cancel: () => clearTimeout(timer),
  }
}

/**
 * streamChannel wraps `stream`; every operation on it fails once the deadline fires: the
 * whole-channel `deadline`, or with limits.idleMs, that long without a frame.
 */
export function streamChannel(stream: Stream, limits: ChannelLimits, deadline: AbortSignal): FrameChannel {
  const lp = lpStream(stream, { maxDataLength: limits.maxFrameBytes })
  const d = limits.idleMs === undefined ? fixed(deadline) : idle(limits.idleMs)
  let closed = false
  const abort = (err: unknown): never => {
    d.cancel()
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
  return {
    async write(frame) {
      try {
        d.touch()
        await lp.write(frame, { signal: d.signal })
      } catch (err) {
        abort(err)
      }
    },
    async read() {
      try {
        const frame = (await lp.read({ signal: d.signal })).subarray()
        d.touch()
        return frame
      } catch (err) {
        return abort(err)
      }
    },
    async close() {
      if (closed) return
      closed = true
      try {
        await stream.close({ signal: d.signal })
        d.cancel()
      } catch (err) {
        abort(err)
      }
    },
  }
}
