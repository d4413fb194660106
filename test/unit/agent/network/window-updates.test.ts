// Window updates at half (agent/network/window-updates.ts) on the yamux library's own stream
// class, no socket: frames are handed to the stream as its muxer would, read as our channels
// read them, and the frames it sends back are counted.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { defaultConfig } from '@chainsafe/libp2p-yamux/config'
import type { FrameHeader } from '@chainsafe/libp2p-yamux'
import { updateWindowAtHalf } from '../../../../agent/network/window-updates.js'

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
