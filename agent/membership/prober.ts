// The probe protocol on the wire (frames in messages.ts): pings and their acks, ping-reqs
// and their acks or nacks, carried on one long-lived link per member (link.ts,
// PROBE_LINK_PROTOCOL) so a probe costs two frames, not a stream; serving links, and the
// one-exchange channels of older agents (PROBE_PROTOCOL); the deadlines they run under (a
// share of the period, stretched by measured round trips and by local health, plus a dial
// when not connected). What the answers mean (suspicion, refutation, member states) is the
// detector's business (detector.ts). No timers or sockets of its own: the Clock measures,
// the Transport carries.

import type { Logger } from 'pino'
import { Awareness, RoundTrips } from '../../core/swim.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import { PROBE_LINK_PROTOCOL, PROBE_PROTOCOL } from '../network/constants.js'
import type { FrameChannel, Transport } from '../transport.js'
import { Links, serveLink } from '../link.js'
import { probeLinkCodec, type Answer, type Request } from './link.js'
import { MAX_PROBE_FRAME_BYTES, decodeFrame, encodeJson, type ProbeFrame, type Self, type View } from './messages.js'

/** Peer is how to reach a member. */
export interface Peer {
  keyId: string
  name: string
  peerId: string
  addresses: readonly string[]
}

/** ProberHost is what the prober asks of the detector; every call is synchronous and must not block. */
export interface ProberHost {
  /** peer returns a member that is neither left nor forgotten, or undefined. */
  peer(keyId: string): Peer | undefined
  /** view returns this agent's view of a member (sent as `you`), or undefined. */
  view(keyId: string): View | undefined
  /** self returns this agent's incarnation and start time (sent as `me` in acks). */
  self(): Self
  /** heard says a member answered us or asked us something. */
  heard(keyId: string): void
  /** alive says a member's own ack told its incarnation and start time. */
  alive(keyId: string, self: Self): void
  /** told says member `by` (or an unknown peer) holds this view of us; the host refutes when it must. Called before the ack is written. */
  told(view: View, by: string | undefined): void
  /** fingerprint returns this agent's state fingerprint (16 hex digits), sent in acks; undefined sends none. */
  fingerprint(): string | undefined
  /** differs says member `peerId` acked with a state fingerprint other than ours. */
  differs(peerId: string): void
}

export interface ProberOptions {
  transport: Pick<Transport, 'open' | 'serve' | 'connectedPeers'>
  clock: Clock
  /** This agent's key id. */
  keyId: string
  periodMs: number
  timings: Pick<Timings['membership'], 'probeTimeoutMs' | 'probeDialMs' | 'awarenessMax' | 'maxInboundProbes' | 'probeLinkIdleMs'>
  host: ProberHost
  log: Logger
}

/** Prober pings members, asks them to ping others, and answers their pings and ping-reqs. */
export class Prober {
  /** Lifeguard's local health: raised when this agent seems to be the slow one. */
  readonly awareness: Awareness
  private readonly opts: ProberOptions
  private readonly rtt = new RoundTrips()
  /** Our links to members, by peer id. */
  private readonly links: Links<Request, Answer>
  private stopped = false

  constructor(opts: ProberOptions) {
    this.opts = opts
    this.awareness = new Awareness(opts.timings.awarenessMax)
    this.links = new Links(opts.clock, probeLinkCodec)
  }

  /** serve answers probe links, and the one-exchange channels of older agents. */
  async serve(): Promise<void> {
    const t = this.opts.transport
    const maxStreams = this.opts.timings.maxInboundProbes
    await t.serve(PROBE_LINK_PROTOCOL, (channel, _peer, keyId) => this.answerLink(channel, keyId), {
      maxFrameBytes: MAX_PROBE_FRAME_BYTES,
      timeoutMs: this.opts.periodMs,
      // Longer than the opener's idle time, so the opener is the one that closes an idle link.
      idleMs: 2 * this.opts.timings.probeLinkIdleMs,
      maxStreams,
    })
    await t.serve(PROBE_PROTOCOL, (channel, _peer, keyId) => this.answer(channel, keyId), {
      maxFrameBytes: MAX_PROBE_FRAME_BYTES,
      // A ping-req is answered after our own ping of its target (see pingTimeout: at most four
      // periods and a dial), with a period to spare.
      timeoutMs: 5 * this.opts.periodMs + this.opts.timings.probeDialMs,
      maxStreams,
    })
  }

  /** stop makes this agent silent: links close, channels are refused from now on, as by a crashed host. */
  stop(): void {
    this.stopped = true
    this.links.closeAll()
  }

  /** drop closes our link to `peer`, if any (its connection was hung up on); the next probe opens another. */
  drop(peer: string): void {
    this.links.drop(peer)
  }

  /** baseTimeout is the configured probe timeout, at most half the period (the other half is for the indirect probes). */
  baseTimeout(): number {
    return Math.max(1, Math.round(Math.min(this.opts.periodMs / 2, this.opts.timings.probeTimeoutMs)))
  }

  /** timeout is the ping deadline over a connection we hold: the base, or longer when acks have been slower (up to two periods), stretched by local health (up to four periods). */
  timeout(): number {
    return Math.min(4 * this.opts.periodMs, this.awareness.scale(this.rtt.timeout(this.baseTimeout(), 2 * this.opts.periodMs)))
  }

  /**
   * pingTimeout adds probeDialMs when `peer` must first be dialled: a handshake is not an
   * answer time, and a dead host refuses at once (only a silent one costs it).
   * connectedPeers is bounded by the connection cap, not by the fleet.
   */
  pingTimeout(peer: Peer): number {
    return this.timeout() + (this.opts.transport.connectedPeers().includes(peer.peerId) ? 0 : this.opts.timings.probeDialMs)
  }

  /** ping sends one ping over our link to the member (opening it, and dialling the member's addresses, when needed) and waits for its ack. */
  async ping(peer: Peer, timeoutMs = this.pingTimeout(peer)): Promise<boolean> {
    const start = this.opts.clock.mono()
    const connected = this.opts.transport.connectedPeers().includes(peer.peerId)
    try {
      const you = this.opts.host.view(peer.keyId)
      const frame = await this.request(peer, you === undefined ? { t: 'ping' } : { t: 'ping', you }, timeoutMs)
      if (frame.t !== 'ack') throw new Error(`expected an ack, got ${frame.t}`)
      // Round trips over a connection we had: a dial is not an answer time.
      if (connected) this.rtt.add(this.opts.clock.mono() - start)
      this.opts.host.heard(peer.keyId)
      if (frame.me !== undefined) this.opts.host.alive(peer.keyId, frame.me)
      if (frame.you !== undefined) this.opts.host.told(frame.you, peer.keyId)
      if (frame.d !== undefined && frame.d !== this.opts.host.fingerprint()) this.opts.host.differs(peer.peerId)
      return true
    } catch (err) {
      this.opts.log.debug({ peer: peer.name, err: (err as Error).message }, 'ping failed')
      return false
    }
  }

  /** indirect asks `helper` to ping `target` for us; resolves to its answer, or 'none'. */
  async indirect(helper: Peer, target: string, timeoutMs: number): Promise<'ack' | 'nack' | 'none'> {
    try {
      const frame = await this.request(helper, { t: 'ping-req', target }, timeoutMs)
      this.opts.host.heard(helper.keyId)
      return frame.t
    } catch (err) {
      this.opts.log.debug({ helper: helper.name, err: (err as Error).message }, 'indirect probe failed')
      return 'none'
    }
  }

  /** request sends one frame on our link to `peer`, opening the link first when there is none (two probes at once share one opening); the deadline covers both. */
  private async request(peer: Peer, frame: Request, timeoutMs: number): Promise<Answer> {
    if (this.stopped) throw new Error('stopped')
    const start = this.opts.clock.mono()
    const link = await this.links.get(peer.peerId, () =>
      this.opts.transport.open(peer.peerId, PROBE_LINK_PROTOCOL, { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs: Math.ceil(timeoutMs), idleMs: this.opts.timings.probeLinkIdleMs }, peer.addresses),
    )
    return link.request(frame, Math.max(1, Math.ceil(timeoutMs - (this.opts.clock.mono() - start))))
  }

  /**
   * answerLink serves a probe link from the peer whose key the transport authenticated:
   * each ping is acked at once; a member's ping-reqs are carried out concurrently (at most
   * maxInboundProbes at a time; more go unanswered) and answered as they finish. Returns
   * when the link ends.
   */
  private async answerLink(channel: FrameChannel, from: string): Promise<void> {
    let carrying = 0
    await serveLink(channel, async (raw) => {
      // A stopped agent answers nothing, as a crashed one.
      if (this.stopped) throw new Error('stopped')
      const frame = decodeFrame(raw)
      if (frame.n === undefined) throw new Error('a probe link frame without its number')
      if (frame.t === 'ping') {
        await channel.write(encodeJson({ ...this.ack(frame, from), n: frame.n }))
        return
      }
      if (frame.t !== 'ping-req') throw new Error(`unexpected ${frame.t} frame`)
      if (this.opts.host.peer(from) === undefined) throw new Error('ping-req from a peer that is not a member')
      if (carrying >= this.opts.timings.maxInboundProbes) return
      carrying++
      const n = frame.n
      void this.carry(frame.target, from)
        .then((ok) => channel.write(encodeJson({ t: ok ? 'ack' : 'nack', n })))
        .catch(() => undefined)
        .finally(() => carrying--)
    })
  }

  /** ack answers a ping from `from`: heard, refuted first when it must be (so the ack carries the new incarnation). */
  private ack(frame: Extract<ProbeFrame, { t: 'ping' }>, from: string): Extract<ProbeFrame, { t: 'ack' }> {
    const host = this.opts.host
    const member = host.peer(from) !== undefined
    if (member) host.heard(from)
    if (frame.you !== undefined) host.told(frame.you, member ? from : undefined)
    const you = member ? host.view(from) : undefined
    const d = member ? host.fingerprint() : undefined
    return { t: 'ack', me: host.self(), ...(you === undefined ? {} : { you }), ...(d === undefined ? {} : { d }) }
  }

  /** carry performs a ping-req from member `from`: pings `target` (ourselves: yes at once). */
  private async carry(target: string, from: string): Promise<boolean> {
    this.opts.host.heard(from)
    if (target === this.opts.keyId) return true
    const peer = this.opts.host.peer(target)
    return peer !== undefined && (await this.ping(peer))
  }

  /** answer serves one exchange of an older agent's probe channel: a ping is acked; a member's ping-req is carried out and answered ack or nack. */
  private async answer(channel: FrameChannel, from: string): Promise<void> {
    if (this.stopped) throw new Error('stopped')
    const frame = decodeFrame(await channel.read())
    if (frame.t === 'ping') {
      await channel.write(encodeJson(this.ack(frame, from)))
      return
    }
    if (frame.t === 'ping-req') {
      // Only members make this agent probe for them.
      if (this.opts.host.peer(from) === undefined) throw new Error('ping-req from a peer that is not a member')
      await channel.write(encodeJson({ t: (await this.carry(frame.target, from)) ? 'ack' : 'nack' }))
      return
    }
    throw new Error(`unexpected ${frame.t} frame`)
  }
}
