// The numbered request/answer link (agent/link.ts) on plain data: a scripted channel whose
// written frames the test reads and whose answers it pushes, a codec of plain JSON, and
// virtual time. One case runs on a loopback socket and Node's own timers instead: what it
// checks (a deadline's timer running before a socket's answer is read) exists only there.

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { systemClock } from '../../../agent/clock.js'
import { Link, Links, type LinkCodec } from '../../../agent/link.js'
import type { FrameChannel } from '../../../agent/transport.js'
import { VirtualClock, settle } from '../../helpers/virtual-clock.js'

interface Req {
  q: string
}

const codec: LinkCodec<Req, string> = {
  encode: (req, n) => new TextEncoder().encode(JSON.stringify({ n, q: req.q })),
  decode: (raw) => {
    const f = JSON.parse(new TextDecoder().decode(raw)) as { n?: unknown; a?: unknown }
    if (typeof f.n !== 'number' || typeof f.a !== 'string') throw new Error('not an answer')
    return { n: f.n, answer: f.a }
  },
}

/** Scripted is a channel the test drives: `written` holds what the link wrote; `answer` and `fail` feed its reader. */
class Scripted implements FrameChannel {
  readonly written: { n: number; q: string }[] = []
  closed = false
  private readonly inbox: Uint8Array[] = []
  private waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined
  private error: Error | undefined

  async write(frame: Uint8Array): Promise<void> {
    if (this.error !== undefined) throw this.error
    this.written.push(JSON.parse(new TextDecoder().decode(frame)) as { n: number; q: string })
  }

  read(): Promise<Uint8Array> {
    const next = this.inbox.shift()
    if (next !== undefined) return Promise.resolve(next)
    if (this.error !== undefined) return Promise.reject(this.error)
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }))
  }

  async close(): Promise<void> {
    this.closed = true
  }

  /** push delivers one raw frame to the link's reader. */
  push(v: unknown): void {
    const b = new TextEncoder().encode(JSON.stringify(v))
    const w = this.waiter
    this.waiter = undefined
    if (w !== undefined) w.resolve(b)
    else this.inbox.push(b)
  }

  /** fail breaks the channel (a reset). */
  fail(err: Error): void {
    this.error = err
    const w = this.waiter
    this.waiter = undefined
    w?.reject(err)
  }
}

/** socketPair connects two sockets over loopback TCP. */
async function socketPair(): Promise<{ a: Socket; b: Socket; close: () => void }> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const a = connect(port, '127.0.0.1')
  await once(a, 'connect')
  const [b] = await accepted
  return {
    a,
    b,
    close: () => {
      a.destroy()
      b.destroy()
      server.close()
    },
  }
}

/** lineChannel carries one frame per line on a socket (the test's JSON frames hold no newline). */
function lineChannel(s: Socket): FrameChannel {
  const lines: Uint8Array[] = []
  const waiters: ((b: Uint8Array) => void)[] = []
  let rest = ''
  s.setEncoding('utf8')
  s.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    for (const line of parts) {
      const b = new TextEncoder().encode(line)
      const w = waiters.shift()
      if (w !== undefined) w(b)
      else lines.push(b)
    }
  })
  return {
    write: async (frame) => {
      s.write(`${new TextDecoder().decode(frame)}\n`)
    },
    read: () => {
      const next = lines.shift()
      return next !== undefined ? Promise.resolve(next) : new Promise((resolve) => waiters.push(resolve))
    },
    close: async () => {
      s.end()
    },
  }
}

/** outcome settles a promise into what it gave, for assertions. */
const outcome = async (p: Promise<string>): Promise<string> => p.then((a) => `answer ${a}`, (e: Error) => `failed: ${e.message}`)

describe('link (numbered requests and answers on one channel)', () => {
  it('numbers requests in order and hands each answer to its own request, in whatever order they come', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    const a = outcome(link.request({ q: 'a' }, 1000))
    const b = outcome(link.request({ q: 'b' }, 1000))
    await settle()
    assert.deepEqual(ch.written, [{ n: 0, q: 'a' }, { n: 1, q: 'b' }])
    ch.push({ n: 1, a: 'B' })
    ch.push({ n: 0, a: 'A' })
    assert.deepEqual([await a, await b], ['answer A', 'answer B'])
    assert.equal(link.waiting, 0)
    assert.ok(link.open)
  })

  it('a request that is not answered in time fails alone; its late answer is dropped, and the link carries on', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    const slow = outcome(link.request({ q: 'slow' }, 100))
    await clock.advance(100)
    assert.equal(await slow, 'failed: no answer within 100 ms')
    const next = outcome(link.request({ q: 'next' }, 1000))
    ch.push({ n: 0, a: 'late' })
    ch.push({ n: 1, a: 'N' })
    assert.equal(await next, 'answer N')
    assert.ok(link.open)
  })

  it('an answer handled at its deadline\'s instant, after the deadline\'s timer, still counts', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    const r = outcome(link.request({ q: 'a' }, 100))
    // Set after the request: at 100 ms the deadline's timer runs first, then this delivery.
    clock.after(100, () => ch.push({ n: 0, a: 'A' }))
    await clock.advance(100)
    assert.equal(await r, 'answer A')
  })

  it('on a real socket, an answer that came in time while the event loop was stalled past the deadline counts', async () => {
    const { a, b, close } = await socketPair()
    try {
      const link = new Link(lineChannel(a), systemClock, codec, () => {})
      const r = outcome(link.request({ q: 'a' }, 20))
      // The answer is in the kernel's buffer at once; then this process stalls (a long GC, a
      // starved host) for five times the deadline. Node then runs the due timer before it reads
      // the socket.
      b.write(`${JSON.stringify({ n: 0, a: 'A' })}\n`)
      const until = performance.now() + 100
      while (performance.now() < until) {
        // busy
      }
      assert.equal(await r, 'answer A')
    } finally {
      close()
    }
  })

  it('a send has a number and no answer; an answer to it is dropped', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    await link.send({ q: 'release' })
    const r = outcome(link.request({ q: 'claim' }, 1000))
    await settle()
    assert.deepEqual(ch.written, [{ n: 0, q: 'release' }, { n: 1, q: 'claim' }])
    ch.push({ n: 0, a: 'stray' })
    ch.push({ n: 1, a: 'C' })
    assert.equal(await r, 'answer C')
    assert.equal(link.waiting, 0)
  })

  it('a frame that is not an answer fails the link and every request waiting on it, once', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    let closed = 0
    const link = new Link(ch, clock, codec, () => closed++)
    const a = outcome(link.request({ q: 'a' }, 1000))
    const b = outcome(link.request({ q: 'b' }, 1000))
    ch.push({ n: 0, q: 'a request, not an answer' })
    assert.deepEqual([await a, await b], ['failed: not an answer', 'failed: not an answer'])
    assert.equal(link.open, false)
    assert.equal(await outcome(link.request({ q: 'c' }, 1000)), 'failed: not an answer')
    await assert.rejects(link.send({ q: 'd' }))
    link.close()
    assert.equal(closed, 1)
    // No timer is left behind by the failed requests.
    await clock.advance(2000)
  })

  it('a channel reset fails the waiting requests', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    const a = outcome(link.request({ q: 'a' }, 1000))
    await settle()
    ch.fail(new Error('stream reset'))
    assert.equal(await a, 'failed: stream reset')
    assert.equal(link.open, false)
  })

  it('refuses a request at once when maxPending wait already', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {}, 2)
    const a = outcome(link.request({ q: 'a' }, 1000))
    const b = outcome(link.request({ q: 'b' }, 1000))
    assert.equal(await outcome(link.request({ q: 'c' }, 1000)), 'failed: 2 requests already wait on this link')
    await settle()
    assert.equal(ch.written.length, 2, 'the refused request was not written')
    ch.push({ n: 0, a: 'A' })
    assert.equal(await a, 'answer A')
    const c = outcome(link.request({ q: 'c' }, 1000))
    ch.push({ n: 1, a: 'B' })
    ch.push({ n: 2, a: 'C' })
    assert.deepEqual([await b, await c], ['answer B', 'answer C'])
  })

  it('close fails what waits and closes the channel', async () => {
    const clock = new VirtualClock()
    const ch = new Scripted()
    const link = new Link(ch, clock, codec, () => {})
    const a = outcome(link.request({ q: 'a' }, 1000))
    link.close()
    assert.equal(await a, 'failed: link closed')
    assert.ok(ch.closed)
  })
})

describe('links (one per peer)', () => {
  it('opens a link on first use, shares one opening between requests, and opens another after it failed', async () => {
    const clock = new VirtualClock()
    const links = new Links(clock, codec)
    const opened: Scripted[] = []
    const open = async (): Promise<FrameChannel> => {
      const ch = new Scripted()
      opened.push(ch)
      return ch
    }
    const [l1, l2] = await Promise.all([links.get('p', open), links.get('p', open)])
    assert.equal(opened.length, 1)
    assert.equal(l1, l2)
    assert.equal(await links.get('p', open), l1, 'an open link is reused')
    await links.get('q', open)
    assert.equal(opened.length, 2, 'one link per peer')
    opened[0]?.fail(new Error('stream reset'))
    await settle()
    const l3 = await links.get('p', open)
    assert.notEqual(l3, l1)
    assert.equal(opened.length, 3)
  })

  it('forgets a failed opening; drop and closeAll close links', async () => {
    const clock = new VirtualClock()
    const links = new Links(clock, codec)
    await assert.rejects(links.get('p', () => Promise.reject(new Error('refused'))), /refused/)
    const ch = new Scripted()
    const l = await links.get('p', async () => ch)
    links.drop('p')
    await settle()
    assert.equal(l.open, false)
    assert.ok(ch.closed)
    const ch2 = new Scripted()
    const l2 = await links.get('p', async () => ch2)
    links.closeAll()
    await settle()
    assert.equal(l2.open, false)
  })
})
