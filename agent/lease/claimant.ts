// The claimant side of the lease: this host's attempts to get an update slot, one per
// DaemonSet. An attempt goes claiming (claim sent, waiting for a quorum of grants) ->
// announcing (act sent, waiting for a majority of acks) -> granted (the reconciler may act,
// while within TTL/2 of sending the claim) -> acting (it acted; held until release). The
// reconciler sees it through UpdateSlots. This file never decides a vote (its own vote goes
// through its own Voter, as a peer's would) and never reads time but the injected Clock's
// monotonic time: the TTL/2 fence compares two readings of this host's clock only.

import { randomInt } from 'node:crypto'
import { termSeenIn, viewOf, type ClaimMessage, type SlotKind } from '../../core/lease.js'
import { claimTurn, freeSlots } from '../../core/pacing.js'
import type { Attempt, ClaimantOptions, Wish } from './attempt.js'
import { Cooldown, type Cooling } from './cooldown.js'
import { FreeSince } from './free-since.js'
import { Handover, rivalOf } from './handover.js'
import { Retries } from './retries.js'
import { TermBook, believable } from './terms.js'
import type { SlotStatus, UpdateSlots } from './update-slots.js'
import type { Reply, SlotRef } from './voter.js'

/** Claimant runs this host's attempts; it is the UpdateSlots the reconciler uses. */
export class Claimant implements UpdateSlots {
  private readonly opts: ClaimantOptions
  private readonly random: (n: number) => number
  private readonly attempts = new Map<string, Attempt>()
  /** When this host looks at its turn again per DaemonSet, whatever happens meanwhile (its fallback, or a back-off). */
  private readonly retries: Retries
  /** No fast-path claim for a DaemonSet whose last attempt failed, for a while (cooldown.ts). */
  private readonly cooldown = new Cooldown()
  /** Since when each free slot was seen free: the fallback takes only a slot no host ahead took. */
  private readonly freeSince = new FreeSince()
  /** What the reconciler last asked per DaemonSet, so a freed slot or a timer can claim without waiting for its next pass. */
  private readonly wishes = new Map<string, Wish>()
  /** Why the DaemonSet's update waits, for status. */
  private readonly why = new Map<string, string>()
  private readonly granted: ((ds: string) => void)[] = []
  /** The terms this host knows besides its own voter's (terms.ts). */
  private readonly terms = new TermBook()
  /** The slots as this host sees them, with the releases heard ahead of the holders' records (handover.ts). */
  private readonly handover: Handover

  constructor(opts: ClaimantOptions) {
    this.opts = opts
    this.retries = new Retries(opts.clock)
    this.handover = new Handover(opts)
    this.random = opts.random ?? ((n) => randomInt(n))
  }

  private now(): number {
    return this.opts.clock.mono()
  }

  /** young reports whether the attempt's grants may still be acted on: less than TTL/2 since the claim was sent. */
  private young(a: Attempt): boolean {
    return this.now() - a.sentAt < this.opts.ttlMs / 2
  }

  /** fenced abandons an attempt whose grant aged before its holder acted, and returns true; false when still young. */
  private fenced(a: Attempt, why: string): boolean {
    if (this.young(a)) return false
    this.opts.log.warn({ daemonset: a.ds, slot: a.slot, term: a.term, ageMs: Math.round(this.now() - a.sentAt) }, 'grant aged before acting: action fenced')
    this.abandon(a, why)
    return true
  }

  status(ds: string): SlotStatus {
    const a = this.attempts.get(ds)
    if (a !== undefined) {
      // The slot held goes into this host's record (hosts off the committee see busy slots so), unless an older agent would refuse that record.
      const held = this.opts.fleet.reportsSlots() ? { kind: a.kind, slot: a.slot } : {}
      if (a.phase === 'acting') return { phase: 'acting', term: a.term, ...held }
      if (a.phase === 'granted') return this.young(a) ? { phase: 'granted', term: a.term, ...held } : { phase: 'waiting', why: 'the grant aged before the update began' }
      return { phase: 'waiting', why: this.why.get(ds) ?? 'waiting for a majority of the fleet to grant an update slot', claiming: true }
    }
    if (!this.retries.has(ds)) return { phase: 'idle' }
    return { phase: 'waiting', why: this.why.get(ds) ?? 'waiting for its turn' }
  }

  claim(ds: string, revision: string, kind: SlotKind): void {
    const a = this.attempts.get(ds)
    if (a !== undefined) {
      const same = a.revision === revision && a.kind === kind
      if (a.phase === 'acting') return
      if (a.phase === 'granted') {
        if (same && this.young(a)) return
        this.abandon(a, 'the grant aged before the update began')
      } else if (!same) {
        this.abandon(a, 'the target changed')
      } else {
        return
      }
    }
    this.wishes.set(ds, { revision, kind })
    const at = this.retries.at(ds)
    if (at !== undefined && at > this.now()) {
      this.consider(ds, false)
      return
    }
    this.consider(ds, at !== undefined)
  }

  /**
   * wake tells the claimant that a slot of `ds` may have freed (a holder released it): a
   * host waiting in line looks again at once instead of at its fallback time. Must not block.
   */
  wake(ds: string): void {
    if (this.wishes.has(ds) && !this.attempts.has(ds)) this.consider(ds, false)
  }

  enter(ds: string): boolean {
    const a = this.attempts.get(ds)
    if (a === undefined) return false
    if (a.phase === 'acting') return true
    if (a.phase !== 'granted') return false
    if (this.fenced(a, 'the grant aged before the update began (fenced)')) return false
    a.phase = 'acting'
    return true
  }

  release(ds: string): void {
    const a = this.attempts.get(ds)
    if (a === undefined) return
    this.forgetWish(ds)
    this.opts.log.info({ daemonset: ds, kind: a.kind, slot: a.slot, term: a.term }, 'update slot released')
    this.giveBack(a)
    this.handover.tellNext(a)
  }

  holding(ds: string): boolean {
    return this.attempts.get(ds)?.phase === 'acting'
  }

  onGranted(fn: (ds: string) => void): void {
    this.granted.push(fn)
  }

  /** forgetWish drops everything pending for a DaemonSet: its wish, its retry time and timer, why it waited. */
  private forgetWish(ds: string): void {
    this.attempts.delete(ds)
    this.wishes.delete(ds)
    this.cooldown.forget(ds)
    this.freeSince.forget(ds)
    this.terms.forget(ds)
    this.why.delete(ds)
    this.retries.clear(ds)
  }

  /** heardRelease notes a holder's release (handover.ts); off the committee it is a hint to this host, and a cooling fast path opens for it. */
  heardRelease(from: string, msg: SlotRef): void {
    if (this.handover.heard(from, msg, this.now())) this.cooldown.open(msg.ds)
  }

  /** lookAgainAt sets this host's fallback time, and a timer that considers claiming then (due). */
  private lookAgainAt(ds: string, at: number): void {
    this.retries.schedule(ds, at, () => {
      if (this.attempts.has(ds)) return
      this.cooldown.open(ds)
      this.consider(ds, true)
    })
  }

  /**
   * fallback returns when this host claims whatever its place, if no slot came to it
   * sooner: now, plus jitter, plus its place among all the hosts still to update (holders
   * included), turnSpacingMs a place, so hosts rarely claim one slot at once. Used for the
   * first look and after a failed attempt (refused, abandoned, fenced).
   */
  private fallback(ds: string, revision: string): number {
    const { jitterMinMs, jitterMaxMs, turnSpacingMs } = this.opts.timings
    const jitter = jitterMinMs + this.random(jitterMaxMs - jitterMinMs)
    return this.now() + jitter + turnSpacingMs * this.opts.fleet.turn(ds, revision, this.opts.selfName())
  }

  /** backoff schedules the fallback claim after a failed attempt, and shuts the fast path for a jitter (`doubled` per failure in a row, `once` for a plain one, `none` at all), at most until then. */
  private backoff(ds: string, revision: string, cooling: Cooling = 'doubled'): void {
    const { jitterMinMs, jitterMaxMs } = this.opts.timings
    const at = this.fallback(ds, revision)
    if (cooling !== 'none') this.cooldown.failed(ds, cooling, this.now(), jitterMinMs + this.random(jitterMaxMs - jitterMinMs), at)
    this.lookAgainAt(ds, at)
  }

  /**
   * consider decides whether this host claims now. The fast path (core/pacing.ts): its place
   * in the line of hosts still to update that hold no slot, against the slots its own voter
   * sees free; when its turn has come it claims the slot of its place at once. Otherwise it
   * keeps waiting: a slot that frees wakes it (wake, and every tick), and at its fallback
   * time (`due`) it claims any slot its voter has seen free for turnSpacingMs (one no host
   * ahead of it took), whatever its place, as before this
   * pacing (the line it sees may be stale, or a host ahead of it may never claim: the votes
   * decide). A courtesy, not a rule: safety comes from the votes alone.
   */
  private consider(ds: string, due: boolean): void {
    const wish = this.wishes.get(ds)
    if (wish === undefined || this.attempts.has(ds) || (!due && this.cooldown.cooling(ds, this.now()))) return
    // A wish holds only while it is still to do: once this host's copy is current (replaced
    // without a slot) it is dropped, and the reconciler asks again if need be.
    if (this.opts.fleet.record(this.opts.keyId)?.pods[ds]?.revision === wish.revision) {
      this.forgetWish(ds)
      return
    }
    const limit = this.opts.fleet.limit(ds, wish.kind)
    if (limit === 0) {
      this.why.set(ds, `no ${wish.kind} slots`)
      if (due || !this.retries.has(ds)) this.lookAgainAt(ds, this.fallback(ds, wish.revision))
      return
    }
    const { held, moving } = this.handover.seen(ds, wish.kind)
    const free = freeSlots(limit, new Map(held.map((h) => [h.slot, h.holder])), this.opts.keyId)
    const place = this.opts.fleet.turn(ds, wish.revision, this.opts.selfName(), moving)
    const turn = claimTurn(place, limit, free, this.opts.timings.turnSpacingMs)
    if (turn.now) {
      this.start(ds, wish.revision, wish.kind, turn.slot)
      return
    }
    // Within the next round of the line: open the links to the committee now, while the
    // slots are busy, so the claim does not wait for dials to voters every claimant dials.
    if (place < 2 * limit) this.opts.warm?.(this.opts.fleet.committee(ds).filter((v) => v !== this.opts.keyId))
    // The fallback takes only a slot that stayed free for turnSpacingMs: a slot that just
    // freed goes to the host at the head of the line (woken by the release), not to
    // whichever host's fallback time happens to come, which would split the votes.
    const idle = this.freeSince.idle(ds, wish.kind, free, this.now(), this.opts.timings.turnSpacingMs)
    if (due && idle.length > 0) {
      this.start(ds, wish.revision, wish.kind, idle[this.random(idle.length)] as number)
      return
    }
    if (due && free.length > 0) {
      // Look again when the first of them has been free for turnSpacingMs.
      const kind = wish.kind
      this.lookAgainAt(ds, Math.min(...free.map((slot) => (this.freeSince.at(ds, kind, slot) ?? this.now()) + this.opts.timings.turnSpacingMs)))
      return
    }
    if (free.length === 0) this.why.set(ds, `every ${wish.kind} slot is held (${held.length} of ${limit})`)
    else if (!this.why.has(ds)) this.why.set(ds, 'waiting for its turn')
    // A pending fallback stands (a look that finds no turn must not push it later).
    if (due || !this.retries.has(ds)) this.lookAgainAt(ds, this.fallback(ds, wish.revision))
  }

  /** start claims `slot`: this host's own vote first (saved) when it is on the DaemonSet's committee, then the claim to the committee's other voters. */
  private start(ds: string, revision: string, kind: SlotKind, slot: number): void {
    this.cooldown.open(ds)
    this.retries.clear(ds)
    const { view, quorum } = viewOf(this.opts.fleet.voters(), this.opts.fleet.faulty(), this.opts.fleet.committeeSize())
    const committee = this.opts.fleet.committee(ds)
    const term = this.terms.next(ds, kind, slot, this.opts.own.maxTerm(ds, kind, slot), this.opts.fleet.reportedHolds(ds, kind), this.opts.clock.wall())
    this.terms.note(ds, kind, slot, term)
    const msg: ClaimMessage = { t: 'claim', ds, kind, slot, term, revision, view }
    const a: Attempt = { ds, kind, slot, term, revision, view, quorum, voters: new Set(committee), sentAt: this.now(), grants: new Set(), refusals: new Set(), seen: [], stale: 0, acks: new Set(), phase: 'claiming', rivalBehind: false }
    this.opts.log.debug({ daemonset: ds, kind, slot, term, voters: a.voters.size, quorum }, 'claiming an update slot')
    if (!a.voters.has(this.opts.keyId)) {
      // Off the committee: this host has no vote on the DaemonSet's slots, not even its own.
      this.attempts.set(ds, a)
      void this.opts.send(msg, this.others(a))
      return
    }
    const own = this.opts.own.claim(msg)
    if (!own.grant) {
      this.why.set(ds, own.reason)
      this.backoff(ds, revision)
      return
    }
    a.grants.add(this.opts.keyId)
    this.attempts.set(ds, a)
    void this.opts.own.save().then(() => this.opts.send(msg, this.others(a)))
    if (a.grants.size >= a.quorum) void this.announce(a)
  }

  /** others returns the attempt's voters (the DaemonSet's committee) but this host: those its claim, act and release go to. */
  private others(a: Attempt): string[] {
    return [...a.voters].filter((v) => v !== this.opts.keyId)
  }

  /** hear takes voter `from`'s answer to one of this host's claims or acts (answers to other hosts, terms or slots are ignored). */
  hear(from: string, msg: Reply): void {
    if (msg.to !== this.opts.keyId) return
    const a = this.attempts.get(msg.ds)
    if (a === undefined || a.kind !== msg.kind || a.slot !== msg.slot || a.term !== msg.term || !a.voters.has(from)) return
    if (msg.t === 'refuse') {
      this.why.set(msg.ds, msg.reason)
      this.opts.log.debug({ daemonset: msg.ds, slot: msg.slot, term: msg.term, reason: msg.reason }, 'claim refused')
      a.refusals.add(from)
      const seen = termSeenIn(msg.reason)
      if (seen !== undefined) a.seen.push(seen)
      if (msg.reason.startsWith('stale term ')) a.stale++
      // No majority can grant it any more: free the votes it has now rather than at the cut-off.
      if (a.phase === 'claiming' && a.voters.size - a.refusals.size < a.quorum) {
        // Refused for its term alone (a host off the committee did not know the slot's last
        // one): the refusals told it, so it claims again at once, one above, without cooling.
        const stale = a.stale === a.refusals.size
        this.abandon(a, msg.reason, stale ? 'none' : undefined)
        if (stale) this.consider(a.ds, false)
      }
      return
    }
    if (msg.t === 'grant' && a.phase === 'claiming') {
      a.grants.add(from)
      if (a.grants.size >= a.quorum) void this.announce(a)
    } else if (msg.t === 'ack' && a.phase === 'announcing') {
      a.acks.add(from)
      this.maybeGranted(a)
    }
  }

  /** announce sends the act once a majority granted: this host's own ack first (saved), then the act to every other voter. */
  private async announce(a: Attempt): Promise<void> {
    a.phase = 'announcing'
    this.opts.log.debug({ daemonset: a.ds, slot: a.slot, term: a.term, grants: a.grants.size, sinceClaimMs: Math.round(this.now() - a.sentAt) }, 'claim granted by a quorum: acting')
    const msg = { t: 'act' as const, ds: a.ds, kind: a.kind, slot: a.slot, term: a.term }
    if (this.opts.own.act(msg)) {
      await this.opts.own.save()
      a.acks.add(this.opts.keyId)
    }
    // Not awaited: the acks arrive through hear() while the exchanges run.
    void this.opts.send(msg, this.others(a))
    this.maybeGranted(a)
  }

  /** maybeGranted makes an announced attempt granted once a majority acknowledged, unless its grant aged (fenced). */
  private maybeGranted(a: Attempt): void {
    if (this.attempts.get(a.ds) !== a || a.phase !== 'announcing' || a.acks.size < a.quorum) return
    if (this.fenced(a, 'the acknowledgements came too late (fenced)')) return
    a.phase = 'granted'
    this.cooldown.succeeded(a.ds)
    this.why.delete(a.ds)
    this.opts.log.info({ daemonset: a.ds, kind: a.kind, slot: a.slot, term: a.term, grants: a.grants.size, quorum: a.quorum, sinceClaimMs: Math.round(this.now() - a.sentAt) }, 'update slot acquired')
    for (const fn of this.granted) fn(a.ds)
  }

  /**
   * abandon drops an attempt nothing was done under and frees its votes at once rather than
   * after the TTL, and backs off. It cools the fast path (`cool`, backoff) for a jitter
   * doubled per failure in a row, except after losing to a host behind it in line (none:
   * that host yields, rival, and this one claims again as soon as the release wakes it) or
   * after yielding to a host ahead (once: a plain jitter, not counted as a failure, so a host
   * that yielded is not held back once its own turn comes).
   */
  private abandon(a: Attempt, why: string, cool: Cooling = a.rivalBehind ? 'none' : 'doubled'): void {
    this.attempts.delete(a.ds)
    this.terms.learn(a.ds, a.kind, a.slot, a.seen, this.opts.fleet.faulty())
    this.why.set(a.ds, why)
    this.backoff(a.ds, a.revision, cool)
    this.giveBack(a)
  }

  /** noteTerm tells the claimant a host's record reports holding `slot` of ds under `term` (how a host off the committee learns terms); only for a DaemonSet this host still has to update. Must not block. */
  noteTerm(ds: string, kind: SlotKind, slot: number, term: number): void {
    if (this.wishes.has(ds) && believable(term, this.opts.clock.wall())) this.terms.note(ds, kind, slot, term)
  }

  /** rival tells the claimant that this agent's voter answered `from`'s claim `msg`: of two hosts claiming one slot at once, the one behind in line yields (handover.ts rivalOf). */
  rival(from: string, msg: ClaimMessage): void {
    const a = this.attempts.get(msg.ds)
    const r = a === undefined ? undefined : rivalOf(a, from, msg, this.opts.fleet, this.opts.keyId, this.opts.selfName())
    if (a === undefined || r === undefined) return
    if (r.ahead) {
      this.opts.log.debug({ daemonset: a.ds, slot: a.slot, term: a.term, to: r.name }, 'claim yielded to a host ahead in line')
      this.abandon(a, `yielded slot ${a.slot} to ${r.name}, ahead in line`, 'once')
    } else a.rivalBehind = true
  }

  /** giveBack frees this host's own vote for the attempt and sends the release to every other voter. */
  private giveBack(a: Attempt): void {
    const msg = { t: 'release' as const, ds: a.ds, kind: a.kind, slot: a.slot, term: a.term }
    if (this.opts.own.release(msg)) void this.opts.own.save()
    void this.opts.send(msg, this.others(a))
  }

  /**
   * tick is the claimant's upkeep: it forgets everything of deleted DaemonSets (nothing left
   * to update), drops an attempt the operator released by hand (`rollout release`: the voters
   * freed it, so it starts over under a new term), and abandons claims or acts that found no
   * quorum within min(TTL/2, claimCutoffMs).
   */
  tick(): void {
    this.handover.prune(this.now(), this.opts.ttlMs)
    for (const ds of [...this.wishes.keys()]) {
      if (this.attempts.has(ds)) continue
      if (this.opts.fleet.daemonSet(ds) === undefined) this.forgetWish(ds)
      // A slot may have freed without a release reaching us (its holder was seen available).
      else this.wake(ds)
    }
    const t = this.now()
    const cutoff = Math.min(this.opts.ttlMs / 2, this.opts.timings.claimCutoffMs)
    for (const a of [...this.attempts.values()]) {
      if (this.opts.fleet.daemonSet(a.ds) === undefined) {
        this.forgetWish(a.ds)
        continue
      }
      const req = this.opts.fleet.releaseRequest(a.ds, this.opts.keyId)
      if (req !== undefined && req.kind === a.kind && req.slot === a.slot && req.revision === a.revision && req.term >= a.term) {
        this.opts.log.warn({ daemonset: a.ds, kind: a.kind, slot: a.slot, term: a.term }, 'update slot released by the operator')
        this.abandon(a, 'update slot released by the operator')
        continue
      }
      if ((a.phase === 'claiming' || a.phase === 'announcing') && t - a.sentAt > cutoff) {
        this.abandon(a, this.why.get(a.ds) ?? `no majority answered (${a.phase === 'claiming' ? a.grants.size : a.acks.size} of ${a.quorum} needed)`)
      }
    }
  }
}
