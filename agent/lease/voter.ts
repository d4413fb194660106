// The voter side of the lease, agent half: this agent's SlotTable answering the claims,
// acts and releases it hears (grant/refuse, ack), with votes persisted before they are
// answered (a voter that restarts remembers what it gave), answers rate-limited per sender,
// and the upkeep that frees the slots of holders seen back (an available copy of the
// current revision for minReadySeconds), of holders gone (Left, forgotten) and of holders
// an operator released by hand, forgets all it kept of deleted DaemonSets and drops lapsed
// grants. The rules themselves are core's (SlotTable); the rule and why it is
// safe: docs/rollout.md. Time is the injected Clock's monotonic time only: never Date.now,
// never a timer of its own (the Lease ticks it).

import type { Logger } from 'pino'
import type { ClaimMessage, Hold, LeaseMessage, SlotKind, SlotTable, Verdict, VoterView } from '../../core/lease.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { LeaseFleet } from './fleet-view.js'
import type { VoteStore } from './votes.js'

/** Request is what a claimant sends a voter: a claim, an act or a release. */
export type Request = Extract<LeaseMessage, { t: 'claim' | 'act' | 'release' }>

/** Reply is a voter's answer to a request: grant or refuse (a claim), ack (an act). */
export type Reply = Extract<LeaseMessage, { t: 'grant' | 'refuse' | 'ack' }>

/** SlotRef names one slot under one term: what act and release messages carry. */
export interface SlotRef {
  ds: string
  kind: SlotKind
  slot: number
  term: number
}

/** BusySlot is one busy slot as this voter sees it, for the API (holder by node name). */
export interface BusySlot {
  ds: string
  kind: SlotKind
  slot: number
  holder: string
  term: number
  /** The revision the holder moves to (what `rollout release` names). */
  revision: string
  acting: boolean
}

/**
 * OwnVote is what this host's Claimant asks of its own voter: it votes for itself through
 * the local table (then saves, then sends), exactly as it would answer a peer.
 */
export interface OwnVote {
  /** claim decides this host's own claim (recording the hold when granted) and returns the verdict. */
  claim(msg: ClaimMessage): Verdict
  /** act marks this host's own hold acting; returns true when it acknowledges. */
  act(msg: SlotRef): boolean
  /** release frees this host's own hold; returns true when it changed the table. */
  release(msg: SlotRef): boolean
  /** held returns the busy holds of a DaemonSet's slots of `kind`. */
  held(ds: string, kind: SlotKind): Hold[]
  /** maxTerm returns the highest term seen for the slot (0 when none). */
  maxTerm(ds: string, kind: SlotKind, slot: number): number
  /** finished returns the hosts that released a slot they acted under for ds's current revision and whose record does not say so yet (Voter.finished). */
  finished(ds: string): ReadonlySet<string>
  /** save persists the table; resolves once saved (or once the failure is logged). */
  save(): Promise<void>
}

export interface VoterOptions {
  /** The slot table; the Lease makes it with the grant TTL. */
  table: SlotTable
  /** This agent's key id: its own votes are recorded under it. */
  keyId: string
  fleet: LeaseFleet
  votes: VoteStore
  clock: Clock
  timings: Pick<Timings['lease'], 'answersPerSecond'>
  /** The membership's forget horizon (default 1 h): a holder with no record once this voter has run this long was forgotten. */
  forgetMs?: number
  log: Logger
}

/** DEFAULT_FORGET_MS is the membership's default forget horizon (agent/config.ts forgetMs). */
const DEFAULT_FORGET_MS = 3_600_000

/** Voter is this agent as a voter: it answers what it hears and keeps its table. */
export class Voter {
  /** own is the Claimant's access to this voter's table. */
  readonly own: OwnVote
  private readonly opts: VoterOptions
  private readonly table: SlotTable
  private persisting: Promise<void> = Promise.resolve()
  /** Monotonic time a holder was first seen ready at the current revision, per `holder|ds|revision`. */
  private readonly readySeen = new Map<string, number>()
  /** Claims answered per sender in the current second of the monotonic clock: a peer cannot make us persist and answer without bound. */
  private readonly answered = new Map<string, { second: number; n: number }>()
  /** Monotonic ms this voter was made: a holder missing from membership counts as forgotten only once the voter has run forgetMs. */
  private readonly bornAt: number
  /**
   * Hosts that released a slot they acted under, per `holder|ds`: the revision they moved to
   * and when. A holder releases only once its copy is current and available, and says so
   * point to point, before its record (gossip) can: until the record catches up, the
   * release is its word for it (finished).
   */
  private readonly done = new Map<string, { holder: string; ds: string; revision: string; at: number }>()

  constructor(opts: VoterOptions) {
    this.opts = opts
    this.table = opts.table
    this.bornAt = opts.clock.mono()
    const me = opts.keyId
    const now = (): number => opts.clock.mono()
    this.own = {
      claim: (msg) => this.table.claim(me, msg, now(), this.view()),
      act: (msg) => this.table.act(me, msg, now()),
      release: (msg) => this.release(me, msg),
      held: (ds, kind) => this.table.held(ds, now(), kind),
      maxTerm: (ds, kind, slot) => this.table.maxTerm(ds, kind, slot),
      finished: (ds) => this.finished(ds),
      save: () => this.persist(),
    }
  }

  /** restore loads the persisted votes; their grants count as given now (conservative). Resolves even when they are unreadable (logged; starts empty). */
  async restore(): Promise<void> {
    try {
      const saved = await this.opts.votes.load()
      const dropped = saved === undefined ? 0 : this.table.load(saved.holds, saved.terms, this.opts.clock.mono())
      if (dropped > 0) this.opts.log.warn({ dropped }, 'lease state held poisoned terms (near 2^53); dropped them')
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'lease state unreadable; starting empty')
    }
  }

  /** persist saves the table as it is now (after any change, before answering); returns when saved. */
  private persist(): Promise<void> {
    const data = { holds: this.table.all().map((h) => ({ ...h })), terms: this.table.termsSnapshot() }
    this.persisting = this.persisting
      .then(() => this.opts.votes.save(data))
      .catch((err: unknown) => this.opts.log.error({ err }, 'persisting lease state failed'))
    return this.persisting
  }

  /**
   * hear judges a claim, act or release from a member and resolves to the answer to send
   * back, only once the votes it gives are saved; undefined when there is none (a release,
   * an act it does not acknowledge, a claim past the sender's rate).
   */
  async hear(from: string, msg: Request): Promise<Reply | undefined> {
    switch (msg.t) {
      case 'claim':
        return this.onClaim(from, msg)
      case 'act':
        if (!this.table.act(from, msg, this.opts.clock.mono())) return undefined
        await this.persist()
        return { t: 'ack', ds: msg.ds, kind: msg.kind, slot: msg.slot, term: msg.term, to: from }
      case 'release':
        if (this.release(from, msg)) await this.persist()
        return undefined
    }
  }

  /** release frees `from`'s hold of the slot (its current term only) and, when it had acted under it, remembers it finished (done). */
  private release(from: string, msg: SlotRef): boolean {
    const h = this.table.all().find((x) => x.ds === msg.ds && x.kind === msg.kind && x.slot === msg.slot)
    if (!this.table.release(from, msg)) return false
    if (h?.acting === true) this.done.set(`${from}|${msg.ds}`, { holder: from, ds: msg.ds, revision: h.revision, at: this.opts.clock.mono() })
    return true
  }

  /**
   * finished returns the hosts that released a slot they acted under for ds's current
   * revision, while their record does not yet report a ready copy of it, for at most the
   * grant TTL: they are no longer waiting to update (the claimant's line leaves them out)
   * and not unavailable (rule 7 does not count them). Their release is their own word, as
   * their record would be; the TTL bounds how long it stands in for a record that never
   * comes.
   */
  finished(ds: string): Set<string> {
    const out = new Set<string>()
    const revision = this.opts.fleet.revision(ds)
    const t = this.opts.clock.mono()
    for (const d of this.done.values()) {
      if (d.ds !== ds || d.revision !== revision || t - d.at >= this.table.ttlMs) continue
      const pod = this.opts.fleet.record(d.holder)?.pods[ds]
      if (pod?.revision === revision && pod.ready) continue
      out.add(d.holder)
    }
    return out
  }

  /** view is the fleet's VoterView, with the hosts that just finished (released, record not caught up) not counted unavailable. */
  private view(): VoterView {
    const v = this.opts.fleet.voterView(this.opts.keyId)
    return { ...v, unavailable: (ds, exclude) => v.unavailable(ds, new Set([...exclude, ...this.finished(ds)])) }
  }

  /** forgetHolder frees every hold of `holder` (its host Left, was forgotten or deleted) and saves. */
  forgetHolder(holder: string, why: string): void {
    const freed = this.table.dropHolder(holder)
    if (freed.length === 0) return
    for (const h of freed) this.opts.log.info({ daemonset: h.ds, holder: this.opts.fleet.nameOf(holder) ?? holder, slot: h.slot, why }, 'slot freed: its holder is gone')
    void this.persist()
  }

  private async onClaim(from: string, msg: ClaimMessage): Promise<Reply | undefined> {
    if (!this.allow(from)) return undefined
    const v = this.table.claim(from, msg, this.opts.clock.mono(), this.view())
    const base = { ds: msg.ds, kind: msg.kind, slot: msg.slot, term: msg.term, to: from }
    if (!v.grant) return { t: 'refuse', ...base, reason: v.reason }
    await this.persist()
    return { t: 'grant', ...base }
  }

  /** allow counts a claim from `from` and returns false past answersPerSecond in the current second (it goes unanswered). */
  private allow(from: string): boolean {
    const second = Math.floor(this.opts.clock.mono() / 1000)
    const c = this.answered.get(from)
    const n = c === undefined || c.second !== second ? 1 : c.n + 1
    this.answered.set(from, { second, n })
    return n <= this.opts.timings.answersPerSecond
  }

  /**
   * tick is the voter's upkeep: it forgets all it kept of deleted DaemonSets (holds and
   * terms), frees the holds of holders gone (Left, or without a record once this voter has
   * run for the forget horizon: forgotten) and of holders an operator released by hand,
   * frees acting holds whose holder is seen running an available copy of the current
   * revision (a holder that died after its update), drops lapsed grants, and saves when
   * anything changed.
   */
  tick(): void {
    const t = this.opts.clock.mono()
    let changed = false
    for (const ds of this.table.daemonSets()) {
      if (this.opts.fleet.daemonSet(ds) !== undefined) continue
      this.table.forget(ds)
      changed = true
    }
    const settled = t - this.bornAt >= (this.opts.forgetMs ?? DEFAULT_FORGET_MS)
    for (const holder of new Set(this.table.all().map((h) => h.holder))) {
      const state = this.opts.fleet.state(holder)
      if (state === 'Left') this.forgetHolder(holder, 'left')
      else if (state === undefined && settled) this.forgetHolder(holder, 'forgotten')
    }
    for (const h of this.table.all()) {
      const req = this.opts.fleet.releaseRequest(h.ds, h.holder)
      if (req === undefined || this.table.releaseBy(h.holder, { ds: h.ds, ...req }) === undefined) continue
      changed = true
      this.opts.log.warn({ daemonset: h.ds, holder: this.opts.fleet.nameOf(h.holder), slot: h.slot, term: h.term }, 'slot freed: released by the operator')
    }
    // minReadySeconds is timed here, from when this voter first saw the holder ready: the
    // holder may have died since and can no longer report its copy available itself.
    const watched = new Set<string>()
    for (const h of this.table.all()) {
      const d = this.opts.fleet.daemonSet(h.ds)
      if (d === undefined || !h.acting) continue
      const record = this.opts.fleet.record(h.holder)
      const pod = record?.pods[h.ds]
      const revision = this.opts.fleet.revision(h.ds)
      const k = `${h.holder}|${h.ds}|${revision}`
      if (revision === undefined || pod === undefined || !pod.ready || pod.revision !== revision) continue
      const seen = this.readySeen.get(k) ?? t
      this.readySeen.set(k, seen)
      watched.add(k)
      if (t - seen >= (d.spec.minReadySeconds ?? 0) * 1000) {
        this.table.recover(h.holder, h.ds)
        changed = true
        this.opts.log.info({ daemonset: h.ds, holder: record?.name, slot: h.slot }, 'slot freed: its holder runs an available copy')
      }
    }
    for (const k of this.readySeen.keys()) if (!watched.has(k)) this.readySeen.delete(k)
    const before = this.table.all().length
    this.table.expire(t)
    if (changed || this.table.all().length !== before) void this.persist()
    const second = Math.floor(t / 1000)
    for (const [from, c] of this.answered) if (c.second !== second) this.answered.delete(from)
    for (const [k, d] of this.done) if (t - d.at >= this.table.ttlMs || this.opts.fleet.revision(d.ds) !== d.revision) this.done.delete(k)
  }

  /** slots returns the busy slots as this voter sees them now, holders shown by node name. */
  slots(): BusySlot[] {
    const t = this.opts.clock.mono()
    return this.table
      .all()
      .filter((h) => this.table.busy(h, t))
      .map((h) => ({ ds: h.ds, kind: h.kind, slot: h.slot, holder: this.opts.fleet.nameOf(h.holder) ?? h.holder, term: h.term, revision: h.revision, acting: h.acting }))
  }
}
