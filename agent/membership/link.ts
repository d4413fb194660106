// A probe link: one long-lived channel to a member that carries many exchanges, each
// request frame numbered (`n`) and its answer carrying the same number, so a ping costs two
// frames instead of a stream opened and closed (on libp2p: protocol negotiation, a peer
// store write, and several more frames each way). One reader per link hands each answer to
// its request; every request has its own deadline on the Clock. The link fails as a whole
// when its channel does (reset, closed, idle, a bad frame): its pending requests fail with
// it, and the prober opens another for the next probe.

import type { Clock } from '../clock.js'
import type { FrameChannel } from '../transport.js'
import { decodeFrame, encodeJson, type ProbeFrame } from './messages.js'

/** A frame this side sends, without its number. */
export type Request = Extract<ProbeFrame, { t: 'ping' | 'ping-req' }>
type Answer = Extract<ProbeFrame, { t: 'ack' | 'nack' }>

interface Pending {
  resolve: (frame: Answer) => void
  reject: (err: Error) => void
  cancel: () => void
}

/** Numbers wrap below the schema's bound. */
const MAX_N = 2 ** 31

/** Link is this agent's end of a probe link it opened. */
export class Link {
  private readonly channel: FrameChannel
  private readonly clock: Clock
  private readonly pending = new Map<number, Pending>()
  private next = 0
  private error: Error | undefined
  private readonly onClosed: () => void

  /** `onClosed` is called once, when the link fails or is closed. */
  constructor(channel: FrameChannel, clock: Clock, onClosed: () => void) {
    this.channel = channel
    this.clock = clock
    this.onClosed = onClosed
    void this.readLoop()
  }

  /** open tells whether the link can still carry requests. */
  get open(): boolean {
    return this.error === undefined
  }

  /** request sends one numbered frame and resolves to its answer; rejects after timeoutMs, or when the link fails. */
  request(frame: Request, timeoutMs: number): Promise<Answer> {
    if (this.error !== undefined) return Promise.reject(this.error)
    const n = this.next
    this.next = (this.next + 1) % MAX_N
    return new Promise<Answer>((resolve, reject) => {
      const timer = this.clock.after(timeoutMs, () => {
        this.pending.delete(n)
        reject(new Error(`no answer within ${timeoutMs} ms`))
      })
      this.pending.set(n, { resolve, reject, cancel: () => timer.cancel() })
      this.channel.write(encodeJson({ ...frame, n })).catch((err: unknown) => this.fail(err))
    })
  }

  /** close ends the link; pending requests fail. */
  close(): void {
    this.fail(new Error('link closed'))
    void this.channel.close().catch(() => undefined)
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const frame = decodeFrame(await this.channel.read())
        if ((frame.t !== 'ack' && frame.t !== 'nack') || frame.n === undefined) throw new Error(`unexpected ${frame.t} frame on a probe link`)
        const p = this.pending.get(frame.n)
        // An answer that came after its request gave up is dropped.
        if (p === undefined) continue
        this.pending.delete(frame.n)
        p.cancel()
        p.resolve(frame)
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
