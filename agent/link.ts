// A link: one long-lived channel to a peer that carries many exchanges, each request frame
// numbered and its answer carrying the same number, so an exchange costs its frames instead
// of a stream opened and closed (on libp2p: protocol negotiation, a peer-store write, and
// several more frames each way). One reader per link hands each answer to its request;
// every request has its own deadline on the Clock. The link fails as a whole when its
// channel does (reset, closed, idle, a frame that is not an answer): its pending requests
// fail with it, and its owner opens another for the next request. What the frames say is
// the codec's: the probe links of the failure detector (agent/membership/link.ts) and the
// lease links (agent/lease/carriage.ts) each bring theirs.

import type { Clock } from './clock.js'
import type { FrameChannel } from './transport.js'

/** LinkCodec turns a protocol's requests into numbered frames, and numbered frames back into answers. */
export interface LinkCodec<Req, Ans> {
  /** encode makes the frame of request `req`, numbered `n`. */
  encode(req: Req, n: number): Uint8Array
  /** decode parses an answer frame and returns its number and the answer; throws on anything else (the link then fails). */
  decode(frame: Uint8Array): { n: number; answer: Ans }
}

/** NoAnswerError is a request's deadline passing without its answer (the link itself may be fine, or may ride a connection that no longer carries frames). */
export class NoAnswerError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`)
    this.name = 'NoAnswerError'
  }
}

interface Pending<Ans> {
  resolve: (answer: Ans) => void
  reject: (err: Error) => void
  cancel: () => void
}

/**
 * serveLink reads the frames of a link this agent serves until the opener closes it (or it
 * goes idle, or the connection goes away), handing each to `each`, which answers it by its
 * number; while `each` runs the link is not read further (a peer that sends faster waits on
 * its own link), and when it throws the link is aborted.
 */
export async function serveLink(channel: FrameChannel, each: (frame: Uint8Array) => Promise<void> | void): Promise<void> {
  for (;;) {
    let raw: Uint8Array
    try {
      raw = await channel.read()
    } catch {
      return
    }
    await each(raw)
  }
}

/** Numbers wrap below 2^31 (the schemas' bound). */
export const MAX_LINK_NUMBER = 2 ** 31 - 1

/** Link is this agent's end of a link it opened. */
export class Link<Req, Ans> {
  private readonly channel: FrameChannel
  private readonly clock: Clock
  private readonly codec: LinkCodec<Req, Ans>
  private readonly maxPending: number
  private readonly pending = new Map<number, Pending<Ans>>()
  private next = 0
  private error: Error | undefined
  private readonly onClosed: () => void

  /**
   * `onClosed` is called once, when the link fails or is closed. At most `maxPending`
   * requests wait for their answers at once; one more is refused at once.
   */
  constructor(channel: FrameChannel, clock: Clock, codec: LinkCodec<Req, Ans>, onClosed: () => void, maxPending = Number.POSITIVE_INFINITY) {
    this.channel = channel
    this.clock = clock
    this.codec = codec
    this.maxPending = maxPending
    this.onClosed = onClosed
    void this.readLoop()
  }

  /** open tells whether the link can still carry requests. */
  get open(): boolean {
    return this.error === undefined
  }

  /** waiting is the number of requests waiting for their answers. */
  get waiting(): number {
    return this.pending.size
  }

  /** request sends one numbered frame and resolves to its answer; rejects after timeoutMs, when the link fails, or at once when maxPending requests are waiting. */
  request(req: Req, timeoutMs: number): Promise<Ans> {
    if (this.error !== undefined) return Promise.reject(this.error)
    if (this.pending.size >= this.maxPending) return Promise.reject(new Error(`${this.maxPending} requests already wait on this link`))
    const n = this.number()
    return new Promise<Ans>((resolve, reject) => {
      // The verdict waits one more turn of the event loop after the deadline: Node runs the
      // timers that are due before it reads the sockets, so after a stall (a long GC, a
      // process starved of CPU) the deadline would otherwise fire while an answer that came
      // in time still waits to be read. A turn reads it first (a virtual clock runs the
      // zero-delay timer after the others already due at that instant).
      let timer = this.clock.after(timeoutMs, () => {
        timer = this.clock.after(0, () => {
          this.pending.delete(n)
          reject(new NoAnswerError(timeoutMs))
        })
      })
      this.pending.set(n, { resolve, reject, cancel: () => timer.cancel() })
      this.channel.write(this.codec.encode(req, n)).catch((err: unknown) => this.fail(err))
    })
  }

  /** send writes one numbered frame that has no answer; resolves once written, rejects when the link failed. */
  async send(req: Req): Promise<void> {
    if (this.error !== undefined) throw this.error
    try {
      await this.channel.write(this.codec.encode(req, this.number()))
    } catch (err) {
      this.fail(err)
      throw err
    }
  }

  /** close ends the link; pending requests fail. */
  close(): void {
    this.fail(new Error('link closed'))
    void this.channel.close().catch(() => undefined)
  }

  private number(): number {
    const n = this.next
    this.next = (this.next + 1) % (MAX_LINK_NUMBER + 1)
    return n
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const { n, answer } = this.codec.decode(await this.channel.read())
        const p = this.pending.get(n)
        // An answer that came after its request gave up (or to a request that has none) is dropped.
        if (p === undefined) continue
        this.pending.delete(n)
        p.cancel()
        p.resolve(answer)
      }
    } catch (err) {
      this.fail(err)
    }
  }

  private fail(err: unknown): void {
    if (this.error !== undefined) return
    this.error = err instanceof Error ? err : new Error(String(err))
    for (const p of this.pending.values()) {
      p.cancel()
      p.reject(this.error)
    }
    this.pending.clear()
    this.onClosed()
  }
}

/**
 * Links keeps one link per peer: opened on first use, shared by the requests made while it
 * opens, and opened again after it failed. Bounded by the peers its owner talks to.
 */
export class Links<Req, Ans> {
  private readonly clock: Clock
  private readonly codec: LinkCodec<Req, Ans>
  private readonly maxPending: number
  /** Links by peer id (one being opened is a pending promise). */
  private readonly links = new Map<string, Promise<Link<Req, Ans>>>()

  constructor(clock: Clock, codec: LinkCodec<Req, Ans>, maxPending = Number.POSITIVE_INFINITY) {
    this.clock = clock
    this.codec = codec
    this.maxPending = maxPending
  }

  /** get returns the open link to `peer`, or one opened with `open` (which dials when it must); a failed opening is forgotten. */
  async get(peer: string, open: () => Promise<FrameChannel>): Promise<Link<Req, Ans>> {
    const known = this.links.get(peer)
    if (known !== undefined) {
      const link = await known.catch(() => undefined)
      if (link?.open === true) return link
      // Someone else may have replaced it meanwhile.
      const now = this.links.get(peer)
      if (now !== undefined && now !== known) return this.get(peer, open)
    }
    const opening: Promise<Link<Req, Ans>> = open().then(
      (channel) =>
        new Link(
          channel,
          this.clock,
          this.codec,
          () => {
            if (this.links.get(peer) === opening) this.links.delete(peer)
          },
          this.maxPending,
        ),
    )
    this.links.set(peer, opening)
    opening.catch(() => {
      if (this.links.get(peer) === opening) this.links.delete(peer)
    })
    return opening
  }

  /** has says whether a link to `peer` is open or being opened. */
  has(peer: string): boolean {
    return this.links.has(peer)
  }

  /** drop closes the link to `peer` (only when it is `only`, when given), if any; the next request opens another. */
  drop(peer: string, only?: Link<Req, Ans>): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    void link
      .then((l) => {
        if (only !== undefined && l !== only) return
        if (this.links.get(peer) === link) this.links.delete(peer)
        l.close()
      })
      .catch(() => undefined)
  }

  /** closeAll closes every link. */
  closeAll(): void {
    for (const peer of [...this.links.keys()]) this.drop(peer)
  }
}
