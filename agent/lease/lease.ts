// The rolling-update lease, agent side, as one small facade: as a voter it judges the
// requests (claim, act, release) of members with this agent's Voter, the sender being the
// member whose record names the channel's authenticated peer; as a claimant it sends its
// Claimant's requests to each voter and hands the answers back. How they travel (a lease
// link per voter, or a stream per request to older voters, both served) is the Carriage's
// (carriage.ts): it changes nothing of what a voter decides. It ticks both (terms are
// learned by the voter's table from valid claims only, never from any other message). What
// the reconciler uses is `slots` (UpdateSlots); what the API shows is `busySlots()`. The
// protocol, the rule and why it is safe: docs/rollout.md. Nothing here reads time or
// schedules work but through the injected Clock (channel deadlines are the transport's).

import type { Logger } from 'pino'
import { SlotTable } from '../../core/lease.js'
import type { NodeRecord } from '../../core/node-record.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import type { Transport } from '../transport.js'
import { Carriage } from './carriage.js'
import { Claimant } from './claimant.js'
import type { UpdateSlots } from './update-slots.js'
import type { LeaseFleet } from './fleet-view.js'
import { Voter, type BusySlot, type Reply, type Request } from './voter.js'
import type { VoteStore } from './votes.js'

export type { SlotStatus, UpdateSlots } from './update-slots.js'
export type { BusySlot } from './voter.js'
export { MAX_LEASE_FRAME_BYTES } from './carriage.js'

export interface LeaseOptions {
  /** Lease messages travel on lease links, or LEASE_PROTOCOL streams to older voters: this agent serves both and opens them to voters. */
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
  metrics: Pick<Metrics, 'lease' | 'rejected' | 'leaseChannels'>
  log: Logger
  /** random returns an integer in [0, n) (jitter, slot choice). Default crypto.randomInt. */
  random?: (n: number) => number
}

/** Lease is this agent's part in the rolling-update lease: voter and claimant on one protocol. */
export class Lease {
  /** slots is what the reconciler claims, enters and releases update slots with. */
  readonly slots: UpdateSlots
  private readonly opts: LeaseOptions
  private readonly voter: Voter
  private readonly claimant: Claimant
  private readonly carriage: Carriage
  private timer: Timer | undefined
  private serving = false

  constructor(opts: LeaseOptions) {
    this.opts = opts
    this.voter = new Voter({ table: new SlotTable(opts.ttlMs), keyId: opts.keyId, fleet: opts.fleet, votes: opts.votes, clock: opts.clock, timings: opts.timings, log: opts.log, ...(opts.forgetMs === undefined ? {} : { forgetMs: opts.forgetMs }) })
    this.claimant = new Claimant({
      keyId: opts.keyId,
      selfName: opts.selfName,
      ttlMs: opts.ttlMs,
      timings: opts.timings,
      fleet: opts.fleet,
      own: this.voter.own,
      clock: opts.clock,
      send: (msg, voters) => this.carriage.send(msg, voters),
      warm: (voters) => this.carriage.warm(voters),
      log: opts.log,
      ...(opts.random === undefined ? {} : { random: opts.random }),
    })
    this.slots = this.claimant
    this.carriage = new Carriage({
      transport: opts.transport,
      clock: opts.clock,
      timings: opts.timings,
      metrics: opts.metrics,
      log: opts.log,
      nameOf: (keyId) => opts.fleet.nameOf(keyId),
      peerOf: (keyId) => opts.fleet.peerOf(keyId),
      judge: (keyId, msg) => this.judge(keyId, msg),
      heard: (voter, reply) => this.claimant.hear(voter, reply),
    })
  }

  /** start restores the persisted votes, then serves the lease protocols and starts the upkeep tick. */
  async start(): Promise<void> {
    if (this.timer !== undefined) return
    await this.voter.restore()
    // Served only once the votes are back: a claim must not be judged by an empty table.
    if (!this.serving) {
      await this.carriage.serve()
      this.serving = true
    }
    this.timer = this.opts.clock.every(this.opts.timings.tickMs, () => this.tick())
  }

  /** stop cancels the upkeep tick and closes this agent's links to voters. */
  stop(): void {
    this.timer?.cancel()
    this.timer = undefined
    this.carriage.stop()
  }

  /**
   * forgetHolder frees every slot `keyId` holds at this voter, at once: its host was deleted
   * from the fleet by the operator (Left and forgotten hosts are freed by the upkeep tick).
   */
  forgetHolder(keyId: string): void {
    this.voter.forgetHolder(keyId, 'deleted')
  }

  /**
   * recordArrived tells the lease a peer's newer record arrived: the slot it reports holding
   * tells that slot's term, which a host off the DaemonSet's committee (it hears no claims)
   * learns this way. A record that shows a slot freed does not wake the hosts waiting here:
   * it reaches them at different times, and waking each on arrival made more of them claim
   * one slot at once (the 100-host simulator's rollout: 15.5-16.2 s against 13.9-14.8 s);
   * the lease tick looks again within half a second. Must not block.
   */
  recordArrived(record: NodeRecord): void {
    for (const [ds, pod] of Object.entries(record.pods)) {
      if (pod.updateSlot !== undefined) this.claimant.noteTerm(ds, pod.updateSlot.kind, pod.updateSlot.slot, pod.updateSlot.term)
    }
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
   * judge decides one request from the peer whose key the transport authenticated: a
   * member's is judged by the voter, which resolves once the votes it gives are saved; a
   * non-member's is dropped unanswered (only members vote or claim).
   */
  private async judge(keyId: string, msg: Request): Promise<Reply | undefined> {
    if (!this.opts.fleet.isMember(keyId)) {
      this.opts.metrics.lease.inc({ type: msg.t, result: 'ignored' })
      return undefined
    }
    this.opts.metrics.lease.inc({ type: msg.t, result: 'received' })
    const reply = await this.voter.hear(keyId, msg)
    // A release frees a slot: the host of ours next in line may claim it now (only a host
    // whose turn it is claims on a wake, so no herd follows). A holder sends it to the
    // committee, and to the head of the line as it sees it (claimant.ts tellNext).
    if (msg.t === 'release') {
      this.claimant.heardRelease(keyId, msg)
      this.claimant.wake(msg.ds)
    }
    // A claim answered for the slot this host is claiming: the host behind in line yields.
    if (msg.t === 'claim' && reply !== undefined) this.claimant.rival(keyId, msg)
    return reply
  }
}
