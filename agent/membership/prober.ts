// The probe protocol on the wire (/daemonmesh/probe/1.0.0, frames in messages.ts): one ping
// and its ack, one ping-req and its ack or nack, each on a fresh channel; serving both; the
// deadlines they run under (a share of the period, stretched by measured round trips and by
// local health, plus a dial when not connected). What the answers mean — suspicion,
// refutation, member states — is the detector's business (detector.ts). No timers or
// sockets of its own: the Clock measures, the Transport carries.

import type { Logger } from 'pino'
import { Awareness, RoundTrips } from '../../core/swim.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import { PROBE_PROTOCOL } from '../network/constants.js'
import type { FrameChannel, Transport } from '../transport.js'
import { MAX_PROBE_FRAME_BYTES, decodeFrame, encodeJson, type Self, type View } from './messages.js'

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
}

export interface ProberOptions {
  transport: Pick<Transport, 'open' | 'serve' | 'connectedPeers'>
  clock: Clock
  /** This agent's key id. */
  keyId: string
  periodMs: number
  timings: Pick<Timings['membership'], 'probeTimeoutRatio' | 'awarenessMax' | 'maxInboundProbes'>
  host: ProberHost
  log: Logger
}

/** Prober pings members, asks them to ping others, and answers their pings and ping-reqs. */
export class Prober {
  /** Lifeguard's local health: raised when this agent seems to be the slow one. */
  readonly awareness: Awareness
  private readonly opts: ProberOptions
  private readonly rtt = new RoundTrips()
  private stopped = false

  constructor(opts: ProberOptions) {
    this.opts = opts
    this.awareness = new Awareness(opts.timings.awarenessMax)
  }

  /** serve answers the probe protocol. */
  async serve(): Promise<void> {
    await this.opts.transport.serve(PROBE_PROTOCOL, (channel, _peer, keyId) => this.answer(channel, keyId), {
      maxFrameBytes: MAX_PROBE_FRAME_BYTES,
      // A ping-req is answered after our own ping of its target (see pingTimeout, at most four periods and a dial).
      timeoutMs: 6 * this.opts.periodMs,
      maxStreams: this.opts.timings.maxInboundProbes,
    })
  }

  /** stop makes this agent silent: channels are refused from now on, as by a crashed host. */
  stop(): void {
    this.stopped = true
  }

  /** baseTimeout is the configured share of the period, at most half of it (the other half is for the indirect probes). */
  baseTimeout(): number {
    return Math.max(1, Math.round(this.opts.periodMs * Math.min(0.5, this.opts.timings.probeTimeoutRatio)))
  }

  /** timeout is the ping deadline over a connection we hold: the base, or longer when acks have been slower (up to two periods), stretched by local health (up to four periods). */
  timeout(): number {
    return Math.min(4 * this.opts.periodMs, this.awareness.scale(this.rtt.timeout(this.baseTimeout(), 2 * this.opts.periodMs)))
  }

  /**
   * pingTimeout adds a period when `peer` must first be dialled: a handshake is not an
   * answer time, and a dead host refuses at once (only a silent one costs it).
   * connectedPeers is bounded by the connection cap, not by the fleet.
   */
  pingTimeout(peer: Peer): number {
    return this.timeout() + (this.opts.transport.connectedPeers().includes(peer.peerId) ? 0 : this.opts.periodMs)
  }

  /** ping sends one ping over a fresh channel (dialling the member's addresses when not connected) and waits for its ack. */
  async ping(peer: Peer, timeoutMs = this.pingTimeout(peer)): Promise<boolean> {
    let channel: FrameChannel | undefined
    const start = this.opts.clock.mono()
    const connected = this.opts.transport.connectedPeers().includes(peer.peerId)
    try {
      channel = await this.opts.transport.open(peer.peerId, PROBE_PROTOCOL, { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs: Math.ceil(timeoutMs) }, peer.addresses)
      const you = this.opts.host.view(peer.keyId)
      await channel.write(encodeJson(you === undefined ? { t: 'ping' } : { t: 'ping', you }))
      const frame = decodeFrame(await channel.read())
      if (frame.t !== 'ack') throw new Error(`expected an ack, got ${frame.t}`)
      // Round trips over a connection we had: a dial is not an answer time.
      if (connected) this.rtt.add(this.opts.clock.mono() - start)
      await channel.close().catch(() => undefined)
      this.opts.host.heard(peer.keyId)
      if (frame.me !== undefined) this.opts.host.alive(peer.keyId, frame.me)
      if (frame.you !== undefined) this.opts.host.told(frame.you, peer.keyId)
      return true
    } catch (err) {
      await channel?.close().catch(() => undefined)
      this.opts.log.debug({ peer: peer.name, err: (err as Error).message }, 'ping failed')
      return false
    }
  }

  /** indirect asks `helper` to ping `target` for us; resolves to its answer, or 'none'. */
  async indirect(helper: Peer, target: string, timeoutMs: number): Promise<'ack' | 'nack' | 'none'> {
    let channel: FrameChannel | undefined
    try {
      channel = await this.opts.transport.open(helper.peerId, PROBE_PROTOCOL, { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs: Math.ceil(timeoutMs) }, helper.addresses)
      await channel.write(encodeJson({ t: 'ping-req', target }))
      const frame = decodeFrame(await channel.read())
      await channel.close().catch(() => undefined)
      this.opts.host.heard(helper.keyId)
      return frame.t === 'ack' ? 'ack' : frame.t === 'nack' ? 'nack' : 'none'
    } catch (err) {
      await channel?.close().catch(() => undefined)
      this.opts.log.debug({ helper: helper.name, err: (err as Error).message }, 'indirect probe failed')
      return 'none'
    }
  }

  /** answer serves one probe channel from the peer whose key the transport authenticated: a ping is acked; a member's ping-req is carried out and answered ack or nack. */
  private async answer(channel: FrameChannel, from: string): Promise<void> {
    if (this.stopped) throw new Error('stopped')
    const frame = decodeFrame(await channel.read())
    const host = this.opts.host
    const member = host.peer(from) !== undefined
    if (frame.t === 'ping') {
      if (member) host.heard(from)
      // A refutation happens here, before the ack, so the ack carries the new incarnation.
      if (frame.you !== undefined) host.told(frame.you, member ? from : undefined)
      const you = member ? host.view(from) : undefined
      await channel.write(encodeJson(you === undefined ? { t: 'ack', me: host.self() } : { t: 'ack', me: host.self(), you }))
      return
    }
    if (frame.t === 'ping-req') {
      // Only members make this agent probe for them.
      if (!member) throw new Error('ping-req from a peer that is not a member')
      host.heard(from)
      const target = host.peer(frame.target)
      const ok = frame.target === this.opts.keyId || (target !== undefined && (await this.ping(target)))
      await channel.write(encodeJson({ t: ok ? 'ack' : 'nack' }))
      return
    }
    throw new Error(`unexpected ${frame.t} frame`)
  }
}
