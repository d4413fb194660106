// The rolling-update lease, agent side, as one small facade: it hears the lease topic,
// checks each message (bounded schema; members only), hands it to this agent's Voter
// (claims, acts, releases) or Claimant (answers to this host's claims), notes its term,
// and ticks both. What the reconciler uses is `slots` (UpdateSlots); what the API shows is
// `busySlots()`. The protocol, the rule and why it is safe: docs/rollout.md. The validator
// must never block (handling is queued off it), and nothing here reads time or schedules
// work but through the injected Clock.

import type { Logger } from 'pino'
import { leaseMessageSchema, SlotTable, type LeaseMessage } from '../../core/lease.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import { Topics } from '../network/constants.js'
import type { GossipMessage, Transport, Verdict } from '../transport.js'
import { Claimant, type UpdateSlots } from './claimant.js'
import type { LeaseFleet } from './fleet-view.js'
import { Voter, type BusySlot } from './voter.js'
import type { VoteStore } from './votes.js'

export type { SlotStatus, UpdateSlots } from './claimant.js'
export type { BusySlot } from './voter.js'

export interface LeaseOptions {
  /** Lease messages travel on gossip topic Topics.lease. */
  transport: Pick<Transport, 'publish' | 'subscribe'>
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
  timings: Timings['lease']
  metrics: Pick<Metrics, 'lease' | 'rejected'>
  log: Logger
  /** random returns an integer in [0, n) (jitter, slot choice). Default crypto.randomInt. */
  random?: (n: number) => number
}

/** Lease is this agent's part in the rolling-update lease: voter and claimant on one topic. */
export class Lease {
  /** slots is what the reconciler claims, enters and releases update slots with. */
  readonly slots: UpdateSlots
  private readonly opts: LeaseOptions
  private readonly voter: Voter
  private readonly claimant: Claimant
  private timer: Timer | undefined

  constructor(opts: LeaseOptions) {
    this.opts = opts
    const send = (msg: LeaseMessage): Promise<void> => this.send(msg)
    this.voter = new Voter({ table: new SlotTable(opts.ttlMs), keyId: opts.keyId, fleet: opts.fleet, votes: opts.votes, clock: opts.clock, timings: opts.timings, send, log: opts.log })
    this.claimant = new Claimant({
      keyId: opts.keyId,
      selfName: opts.selfName,
      ttlMs: opts.ttlMs,
      timings: opts.timings,
      fleet: opts.fleet,
      own: this.voter.own,
      clock: opts.clock,
      send,
      log: opts.log,
      ...(opts.random === undefined ? {} : { random: opts.random }),
    })
    this.slots = this.claimant
  }

  /** start restores the persisted votes, then hears the lease topic and starts the upkeep tick. */
  async start(): Promise<void> {
    if (this.timer !== undefined) return
    await this.voter.restore()
    // Subscribed only once the votes are back: a claim must not be judged by an empty table.
    this.opts.transport.subscribe(Topics.lease, (msg) => this.validate(msg))
    this.timer = this.opts.clock.every(this.opts.timings.tickMs, () => this.tick())
  }

  /** stop cancels the upkeep tick. */
  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
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

  private async send(msg: LeaseMessage): Promise<void> {
    this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
    await this.opts.transport.publish(Topics.lease, new TextEncoder().encode(JSON.stringify(msg)))
  }

  /** validate is the handler of the lease topic and returns its verdict. Must not block: handling is queued. */
  validate(msg: GossipMessage): Verdict {
    let parsed: LeaseMessage
    try {
      const r = leaseMessageSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)))
      if (!r.success) throw new Error(r.error.issues[0]?.message)
      parsed = r.data
    } catch {
      this.opts.metrics.lease.inc({ type: 'invalid', result: 'rejected' })
      this.opts.metrics.rejected.inc({ map: 'lease', source: 'gossip' })
      this.opts.log.warn({ from: msg.from }, 'malformed lease message: dropped')
      return 'reject'
    }
    // Only members vote or claim: a key with no node record is not part of the fleet.
    if (!this.opts.fleet.isMember(msg.fromKeyId)) return 'ignore'
    queueMicrotask(() => void this.handle(msg.fromKeyId, parsed).catch((err: unknown) => this.opts.log.error({ err }, 'lease message failed')))
    return 'accept'
  }

  private async handle(from: string, msg: LeaseMessage): Promise<void> {
    this.opts.metrics.lease.inc({ type: msg.t, result: 'received' })
    // Note the term after deciding: a claim is judged against the terms seen before it.
    try {
      if (msg.t === 'claim' || msg.t === 'act' || msg.t === 'release') await this.voter.hear(from, msg)
      else this.claimant.hear(from, msg)
    } finally {
      this.voter.observe(msg)
    }
  }
}
