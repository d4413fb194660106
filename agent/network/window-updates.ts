// Fewer yamux window updates. @chainsafe/libp2p-yamux (7.x) sends a WINDOW_UPDATE frame
// for every chunk a stream's reader takes, however small: on a probe link each 100-byte
// ping or ack costs the reader a 30-byte frame back, encrypted by noise and pnet and
// written to the socket on its own, and the peer reads and decrypts it. That was more than
// half the socket writes of an idle agent (docs/idle-cost.md); on gossipsub's streams it was
// a quarter of an apply's (a DaemonSet and its history: each copy, duplicate and IDONTWANT
// read cost an update). Go's yamux (hashicorp and libp2p) sends an update only once the
// window has been drained by half; this applies that rule to every stream of a connection
// (`halfWindowMuxers`), ours and the libraries' alike. The peer sees the same protocol with
// fewer updates: it may send at most what the last update allowed, so it never sends more
// than this side accepts, and a window half full is still 128 KiB, far above any frame or
// gossip message of ours. The library has no option for it; the stream's fields are
// checked before anything is changed, so a version that names them differently keeps its
// own behaviour.

import type { Stream, StreamMuxer, StreamMuxerFactory, StreamMuxerInit } from '@libp2p/interface'

/** The yamux stream fields this relies on (private in the library). */
interface YamuxWindow {
  sendWindowUpdate: () => void
  recvWindow: number
  recvWindowCapacity: number
  state: number
}

/** yamux's StreamState.Established: SYN and ACK exchanged, so an update would carry no flag. */
const ESTABLISHED = 3

function isYamuxWindow(s: unknown): s is YamuxWindow {
  const w = s as Partial<YamuxWindow>
  return typeof w.sendWindowUpdate === 'function' && typeof w.recvWindow === 'number' && typeof w.recvWindowCapacity === 'number' && typeof w.state === 'number'
}

/**
 * updateWindowAtHalf makes `stream` (a yamux stream) send a window update only once its
 * receive window is less than half open, or when the update carries a flag (the stream's
 * first frames). Returns whether it applied.
 */
export function updateWindowAtHalf(stream: Stream): boolean {
  if (!isYamuxWindow(stream)) return false
  const w: YamuxWindow = stream
  const send = w.sendWindowUpdate.bind(stream)
  w.sendWindowUpdate = () => {
    if (w.state === ESTABLISHED && w.recvWindowCapacity * 2 >= w.recvWindow) return
    send()
  }
  return true
}

/**
 * halfWindowMuxers wraps a stream muxer factory (libp2p's `streamMuxers` entry) so that every
 * stream its muxers open or accept sends window updates at half (updateWindowAtHalf).
 */
export function halfWindowMuxers<C>(factory: (components: C) => StreamMuxerFactory): (components: C) => StreamMuxerFactory {
  return (components) => {
    const inner = factory(components)
    const wrapped: StreamMuxerFactory = Object.create(inner) as StreamMuxerFactory
    wrapped.createStreamMuxer = (init?: StreamMuxerInit): StreamMuxer => {
      const muxer = inner.createStreamMuxer({
        ...init,
        onIncomingStream: (stream) => {
          updateWindowAtHalf(stream)
          init?.onIncomingStream?.(stream)
        },
      })
      const open = muxer.newStream.bind(muxer)
      muxer.newStream = (name) => {
        const s = open(name)
        if (s instanceof Promise) return s.then((stream) => (updateWindowAtHalf(stream), stream))
        updateWindowAtHalf(s)
        return s
      }
      return muxer
    }
    return wrapped
  }
}
