// The rolling-update lease, agent side, as one small facade over point-to-point channels
// of LEASE_PROTOCOL. As a voter it serves them: one request (claim, act or release) per
// channel, bounded and checked (schema; only members are heard, the sender being the
// member whose record names the channel's authenticated peer), judged by this agent's
// Voter and answered on the same channel. As a claimant it opens one to each voter per
// request and hands the answer to its Claimant. It ticks both (terms are learned by the
// voter's table from valid claims only, never from any other message). What the reconciler uses is `slots` (UpdateSlots); what the API
// shows is `busySlots()`. The protocol, the rule and why it is safe: docs/rollout.md.
// Nothing here reads time or schedules work but through the injected Clock (channel
// deadlines are the transport's).

import type { Logger } from 'pino'
import { leaseMessageSchema, SlotTable, type LeaseMessage } from '../../core/lease.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import { LEASE_PROTOCOL } from '../network/constants.js'
import type { ChannelLimits, FrameChannel, Transport } from '../transport.js'
import { Claimant } from './claimant.js'
import type { UpdateSlots } from './update-slots.js'
import type { LeaseFleet } from './fleet-view.js'
import { Voter, type BusySlot, type Reply, type Request } from './voter.js'
import type { VoteStore } from './votes.js'

export type { SlotStatus, UpdateSlots } from './update-slots.js'
export type { BusySlot } from './voter.js'

/**
 * MAX_LEASE_FRAME_BYTES bounds one lease frame. The largest message the schema admits (a
 * refusal: a DaemonSet reference of 317 characters, a reason of 300, a key id) is under
 * 2 KiB even with every character escaped; anything larger is not a lease message.
 */
export const MAX_LEASE_FRAME_BYTES = 4096

export interface LeaseOptions {
  /** Lease messages travel on LEASE_PROTOCOL channels: this agent serves them and opens them to voters. */
  transport: Pick<Transport, 'serve' | 'open'>
  clock: Clock
  fleet: LeaseFleet
  /** Where this voter's votes are kept across restarts (FileVoteStore in production). */
  votes: VoteStore
  /** This agent's key id. */
  keyId: string
  /** This host's node name (its turn is its place by name). */
  selfName: () => string
  /** Grant lifetime. Default 15 s (`--lease-ttl`); a holder acts only in the first half. */
  ttlMs: number
  /** The membership's forget horizon: a holder without a record this long into this voter's life was forgotten, and its slots are freed. Default 1 h. */
  forgetMs?: number
  timings: Timings['lease']
  metrics: Pick<Metrics, 'lease' | 'rejected'>
  log: Logger
  /** random returns an integer in [0, n) (jitter, slot choice). Default crypto.randomInt. */
  random?: (n: number) => number
}

const encode = (msg: LeaseMessage): Uint8Array => new TextEncoder().encode(JSON.stringify(msg))

/** Lease is this agent's part in the rolling-update lease: voter and claimant on one protocol. */
export class Lease {
  /** slots is what the reconciler claims, enters and releases update slots with. */
  readonly slots: UpdateSlots
  private readonly opts: LeaseOptions
  private readonly voter: Voter
  private readonly claimant: Claimant
  private readonly limits: ChannelLimits
  private timer: Timer | undefined
  private serving = false
  /** Channels open to voters now, and the exchanges waiting for one to close (maxOpenChannels). */
  private openChannels = 0
  private readonly waiting: (() => void)[] = []

  constructor(opts: LeaseOptions) {
    this.opts = opts
    this.limits = { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: opts.timings.exchangeTimeoutMs }
    this.voter = new Voter({ table: new SlotTable(opts.ttlMs), keyId: opts.keyId, fleet: opts.fleet, votes: opts.votes, clock: opts.clock, timings: opts.timings, log: opts.log, ...(opts.forgetMs === undefined ? {} : { forgetMs: opts.forgetMs }) })
    this.claimant = new Claimant({
      keyId: opts.keyId,
      selfName: opts.selfName,
      ttlMs: opts.ttlMs,
      timings: opts.timings,
      fleet: opts.fleet,
      own: this.voter.own,
      clock: opts.clock,
      send: (msg, voters) => this.send(msg, voters),
      log: opts.log,
      ...(opts.random === undefined ? {} : { random: opts.random }),
    })
    this.slots = this.claimant
  }

  /** start restores the persisted votes, then serves the lease protocol and starts the upkeep tick. */
  async start(): Promise<void> {
    if (this.timer !== undefined) return
    await this.voter.restore()
    // Served only once the votes are back: a claim must not be judged by an empty table.
    if (!this.serving) {
      await this.opts.transport.serve(LEASE_PROTOCOL, (channel, peer, keyId) => this.answer(channel, peer, keyId), { ...this.limits, maxStreams: this.opts.timings.maxInboundStreams })
      this.serving = true
    }
    this.timer = this.opts.clock.every(this.opts.timings.tickMs, () => this.tick())
  }

  /** stop cancels the upkeep tick. */
  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
  }

  /**
   * forgetHolder frees every slot `keyId` holds at this voter, at once: its host was deleted
   * from the fleet by the operator (Left and forgotten hosts are freed by the upkeep tick).
   */
  forgetHolder(keyId: string): void {
    this.voter.forgetHolder(keyId, 'deleted')
  }

  /** busySlots returns the busy slots as this voter sees them, holders by node name (for the API). */
  busySlots(): BusySlot[] {
    return this.voter.slots()
  }

  /** tick runs the upkeep: the claimant's timeouts first, then the voter's recoveries and expiries. */
  tick(): void {
    this.claimant.tick()
    this.voter.tick()
  }

  /**
   * answer serves one inbound channel: it reads one request, judges it if the peer is a
   * member, and writes the answer back (once the vote is saved). A malformed frame, or a
   * message that is not a request, is counted as rejected and aborts the channel; a
   * non-member's request is dropped unanswered. Called concurrently, at most
   * maxInboundStreams at once per connection.
   */
  private async answer(channel: FrameChannel, peer: string, keyId: string): Promise<void> {
    const msg = this.parse(await channel.read(), peer, ['claim', 'act', 'release'])
    if (msg === undefined) throw new Error('malformed lease request')
    // Only members vote or claim: the sender is the key the transport authenticated.
    const from = this.opts.fleet.isMember(keyId) ? keyId : undefined
    if (from === undefined) {
      this.opts.metrics.lease.inc({ type: msg.t, result: 'ignored' })
      return
    }
    this.opts.metrics.lease.inc({ type: msg.t, result: 'received' })
    const reply: Reply | undefined = await this.voter.hear(from, msg)
    // A release frees a slot: the host of ours next in line may claim it now (only a host
    // whose turn it is claims on a wake, so no herd follows).
    if (msg.t === 'release') this.claimant.wake(msg.ds)
    if (reply === undefined) return
    await channel.write(encode(reply))
    this.opts.metrics.lease.inc({ type: reply.t, result: 'sent' })
  }

  /** send delivers a request to each voter on its own channel, at most maxOpenChannels at once; resolves when every exchange ended. */
  private async send(msg: Request, voters: readonly string[]): Promise<void> {
    await Promise.all(voters.map((v) => this.exchange(v, msg)))
  }

  /**
   * exchange opens a channel to `voter` (dialling its record's addresses when not
   * connected), writes the request and, for a claim or an act, reads the one answer and
   * hands it to the claimant. Failures are counted and logged at debug: a voter that does
   * not answer is one vote short, and the claim cut-off handles that.
   */
  private async exchange(voter: string, msg: Request): Promise<void> {
    const peer = this.opts.fleet.peerOf(voter)
    if (peer === undefined) {
      this.opts.metrics.lease.inc({ type: msg.t, result: 'failed' })
      return
    }
    await this.acquireChannel()
    let channel: FrameChannel | undefined
    let stage = 'open'
    try {
      channel = await this.opts.transport.open(peer.peerId, LEASE_PROTOCOL, this.limits, peer.addresses)
      stage = 'write'
      await channel.write(encode(msg))
      this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
      if (msg.t === 'release') return
      stage = 'read'
      const reply = this.parse(await channel.read(), peer.peerId, msg.t === 'claim' ? ['grant', 'refuse'] : ['ack'])
      if (reply === undefined) return
      this.opts.metrics.lease.inc({ type: reply.t, result: 'received' })
      this.claimant.hear(voter, reply)
    } catch (err) {
      // A voter that closes without a word did not answer (rate, or an act it does not acknowledge).
      this.opts.metrics.lease.inc({ type: msg.t, result: stage === 'read' ? 'unanswered' : 'failed' })
      this.opts.log.debug({ err, voter: this.opts.fleet.nameOf(voter) ?? voter, type: msg.t, stage }, 'lease exchange ended without an answer')
    } finally {
      await channel?.close().catch(() => undefined)
      this.releaseChannel()
    }
  }

  /** parse decodes one frame and returns it when it is a lease message of one of `types`; otherwise it counts it as rejected, warns, and returns undefined. */
  private parse<T extends LeaseMessage['t']>(frame: Uint8Array, peer: string, types: readonly T[]): Extract<LeaseMessage, { t: T }> | undefined {
    try {
      const r = leaseMessageSchema.safeParse(JSON.parse(new TextDecoder().decode(frame)))
      if (r.success && (types as readonly string[]).includes(r.data.t)) return r.data as Extract<LeaseMessage, { t: T }>
    } catch {
      // not JSON: rejected below
    }
    this.opts.metrics.lease.inc({ type: 'invalid', result: 'rejected' })
    this.opts.metrics.rejected.inc({ map: 'lease', source: 'stream' })
    this.opts.log.warn({ peer }, 'malformed lease message: dropped')
    return undefined
  }

  /** acquireChannel resolves once fewer than maxOpenChannels channels are open (first come, first served). */
  private acquireChannel(): Promise<void> {
    if (this.openChannels < this.opts.timings.maxOpenChannels) {
      this.openChannels++
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  /** releaseChannel hands a closed channel's place to the next waiting exchange. */
  private releaseChannel(): void {
    const next = this.waiting.shift()
    if (next === undefined) this.openChannels--
    else next()
  }
}
