// Window updates at half (agent/network/window-updates.ts) on the yamux library's own stream
// class, no socket: frames are handed to the stream as its muxer would, read as our channels
// read them, and the frames it sends back are counted.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { defaultConfig } from '@chainsafe/libp2p-yamux/config'
import { yamux, type FrameHeader } from '@chainsafe/libp2p-yamux'
import type { Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import { halfWindowMuxers, updateWindowAtHalf } from '../../../../agent/network/window-updates.js'

type Chunk = Awaited<ReturnType<Parameters<YamuxStream['handleData']>[1]>>

const DATA = 0
const WINDOW_UPDATE = 1

function stream(state: StreamState): { s: YamuxStream; sent: FrameHeader[] } {
  const sent: FrameHeader[] = []
  const s = new YamuxStream({
    id: '1',
    name: '1',
    state,
    direction: 'inbound',
    sendFrame: (h) => sent.push(h),
    getRTT: () => -1,
    config: defaultConfig,
    log: Object.assign(() => undefined, { enabled: false, trace: () => undefined, error: () => undefined, newScope: () => { throw new Error('no scope') } }),
  })
  return { s, sent }
}

/** deliver hands `count` data frames of `size` bytes to the stream and reads each, as a channel does. */
async function deliver(s: YamuxStream, count: number, size: number): Promise<void> {
  const reader = s.source[Symbol.asyncIterator]()
  for (let i = 0; i < count; i++) {
    await s.handleData({ type: DATA, flag: 0, streamID: 1, length: size } as FrameHeader, () => Promise.resolve(new Uint8Array(size) as unknown as Chunk))
    await reader.next()
  }
}

const updates = (sent: FrameHeader[]): FrameHeader[] => sent.filter((h) => (h.type as number) === WINDOW_UPDATE)

describe('window updates at half', () => {
  it('the library alone answers every frame read with a window update (what this saves)', async () => {
    const { s, sent } = stream(StreamState.Established)
    await deliver(s, 20, 100)
    assert.equal(updates(sent).length, 20)
  })

  it('applies to the library stream, and sends no update while the window is more than half open', async () => {
    const { s, sent } = stream(StreamState.Established)
    assert.equal(updateWindowAtHalf(s), true)
    // 1,000 probe-sized frames: 100 KB of the 256 KiB window.
    await deliver(s, 1000, 100)
    assert.equal(updates(sent).length, 0)
  })

  it('sends one update for everything read once half the window is gone, so a long transfer never exceeds the window', async () => {
    const { s, sent } = stream(StreamState.Established)
    updateWindowAtHalf(s)
    const window = defaultConfig.initialStreamWindowSize
    // Four windows' worth in 1 KiB frames: the stream throws if the peer may send past its window.
    await deliver(s, (4 * window) / 1024, 1024)
    const u = updates(sent)
    assert.ok(u.length >= 4 && u.length <= 8, `${u.length} updates`)
    for (const h of u) assert.ok(h.length >= window / 2, `an update of ${h.length} bytes`)
  })

  it('still sends the update that carries the stream\'s ACK flag at once', async () => {
    const { s, sent } = stream(StreamState.SYNReceived)
    updateWindowAtHalf(s)
    await deliver(s, 1, 100)
    assert.equal(updates(sent).length, 1)
    assert.notEqual(updates(sent)[0]?.flag, 0)
  })

  it('leaves a stream without yamux\'s fields as it is', () => {
    assert.equal(updateWindowAtHalf({} as unknown as YamuxStream), false)
  })
})

/** A yamux muxer pair from `factory`, piped to each other in memory; `updates` counts the window-update frames each side wrote. */
function pair(factory: StreamMuxerFactory): { client: StreamMuxer; server: StreamMuxer; accepted: Stream[]; updates: { client: number; server: number } } {
  const accepted: Stream[] = []
  const client = factory.createStreamMuxer({ direction: 'outbound', onIncomingStream: (s) => accepted.push(s) })
  const server = factory.createStreamMuxer({ direction: 'inbound', onIncomingStream: (s) => accepted.push(s) })
  const updates = { client: 0, server: 0 }
  // Each chunk a muxer's source yields is one frame: a 12-byte header (type at byte 1), then its data.
  const counted = (from: StreamMuxer, side: 'client' | 'server'): AsyncGenerator<Uint8Array> =>
    (async function* () {
      for await (const chunk of from.source) {
        const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
        if (bytes[1] === WINDOW_UPDATE) updates[side]++
        yield bytes
      }
    })()
  void client.sink(counted(server, 'server'))
  void server.sink(counted(client, 'client'))
  return { client, server, accepted, updates }
}

const silentLogger = { forComponent: () => Object.assign(() => undefined, { enabled: false, trace: () => undefined, error: () => undefined, newScope: () => silentLogger.forComponent() }) }

/** paced yields `count` 100-byte frames, each once the reader took the one before (as probes and gossip arrive: one frame a read). */
function paced(count: number): { frames: AsyncGenerator<Uint8Array>; took: () => void } {
  let wake: (() => void) | undefined
  let taken = 0
  const frames = (async function* () {
    for (let i = 0; i < count; i++) {
      yield new Uint8Array(100)
      while (taken <= i) await new Promise<void>((r) => (wake = r))
    }
  })()
  return { frames, took: () => { taken++; wake?.() } }
}

/** readAll reads `count` 100-byte frames from `stream`, telling `took` after each. */
async function readAll(stream: Stream, count: number, took: () => void): Promise<void> {
  let read = 0
  for await (const chunk of stream.source) {
    read += chunk.byteLength
    took()
    if (read >= count * 100) return
  }
}

const accept = async (p: ReturnType<typeof pair>): Promise<Stream> => {
  while (p.accepted.length === 0) await new Promise((r) => setImmediate(r))
  return p.accepted[0] as Stream
}

/** exchange writes `count` frames on a stream the client opens, read one at a time by the server that accepts it. */
async function exchange(p: ReturnType<typeof pair>, count: number): Promise<void> {
  const opened = await p.client.newStream()
  const { frames, took } = paced(count)
  const writing = opened.sink(frames)
  await readAll(await accept(p), count, took)
  await writing
}

describe('window updates at half on every stream of a muxer (halfWindowMuxers)', () => {
  const plain = yamux({ enableKeepAlive: false })({ logger: silentLogger } as never)
  const halved = halfWindowMuxers(yamux({ enableKeepAlive: false }))({ logger: silentLogger } as never)

  it('the library alone: the reader of an accepted stream sends an update per frame', async () => {
    const p = pair(plain)
    await exchange(p, 50)
    assert.ok(p.updates.server >= 40, `${p.updates.server} updates`)
  })

  it('an accepted stream (gossipsub\'s inbound RPC stream) sends only the update that opens it', async () => {
    const p = pair(halved)
    await exchange(p, 50)
    assert.equal(p.updates.server, 1)
  })

  it('an opened stream (gossipsub\'s outbound one, our channels) sends only the update that opens it, however much it reads', async () => {
    const p = pair(halved)
    const opened = await p.client.newStream()
    const hello = paced(1)
    const greeting = opened.sink((async function* () {
      yield* hello.frames
      await new Promise(() => undefined)
    })())
    const server = await accept(p)
    await readAll(server, 1, hello.took)
    const { frames, took } = paced(50)
    const back = server.sink(frames)
    await readAll(opened, 50, took)
    await back
    void greeting
    assert.equal(p.updates.client, 1)
  })

  it('keeps the factory\'s own fields (libp2p matches muxers by protocol)', () => {
    assert.equal(halved.protocol, plain.protocol)
  })
})
