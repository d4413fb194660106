// The claimant side of the lease: this host's attempts to get an update slot, one per
// DaemonSet. An attempt goes claiming (claim sent, waiting for a quorum of grants) ->
// announcing (act sent, waiting for a majority of acks) -> granted (the reconciler may act,
// while within TTL/2 of sending the claim) -> acting (it acted; held until release). The
// reconciler sees it through UpdateSlots. This file never decides a vote (its own vote goes
// through its own Voter, as a peer's would) and never reads time but the injected Clock's
// monotonic time: the TTL/2 fence compares two readings of this host's clock only.

import { randomInt } from 'node:crypto'
import type { Logger } from 'pino'
import { viewOf, type ClaimMessage, type SlotKind } from '../../core/lease.js'
import type { SlotAnswer } from '../../core/pass.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { LeaseFleet } from './fleet-view.js'
import type { OwnVote, Reply, Request } from './voter.js'

/**
 * SlotStatus is an attempt as the reconciler sees it (core's SlotAnswer): idle (no attempt,
 * nothing pending), waiting (turn back-off, claiming, announcing, refused: with why),
 * granted (may act now: the grant is young enough), acting (acted under it: held until release).
 */
export type SlotStatus = SlotAnswer

/** UpdateSlots is what the reconciler uses. */
export interface UpdateSlots {
  /** status is a pure query: it changes nothing (an aged grant reads as waiting). */
  status(ds: string): SlotStatus
  /** claim asks for a slot of `kind` to move this host's copy of ds to revision: idempotent; waits for this host's turn first; abandons and restarts an attempt whose target changed or whose grant aged. */
  claim(ds: string, revision: string, kind: SlotKind): void
  /** enter is the fence check right before acting: true when granted and still young enough (phase becomes acting) or already acting; false (and the attempt starts over, logging 'grant aged before acting: action fenced') when it aged. */
  enter(ds: string): boolean
  /** release gives the slot back (the new copy is available). */
  release(ds: string): void
  /** holding: this host acted under a slot of ds it has not released. */
  holding(ds: string): boolean
  /** onGranted calls fn(ds) when a slot becomes granted (the reconciler then runs a pass). */
  onGranted(fn: (ds: string) => void): void
}

/** Phase of an attempt: see the module header. */
export type AttemptPhase = 'claiming' | 'announcing' | 'granted' | 'acting'

/** Attempt is this host's claim on one DaemonSet's slot. */
interface Attempt {
  ds: string
  kind: SlotKind
  slot: number
  term: number
  revision: string
  quorum: number
  voters: Set<string>
  /** Monotonic ms the claim was sent: the grant is trusted until sentAt + TTL/2. */
  sentAt: number
  grants: Set<string>
  acks: Set<string>
  phase: AttemptPhase
}

export interface ClaimantOptions {
  /** This host's key id: answers addressed to it are ours. */
  keyId: string
  /** This host's node name: its turn is its place by name. */
  selfName: () => string
  /** Grant lifetime at the voters; this host acts only in the first half. */
  ttlMs: number
  timings: Pick<Timings['lease'], 'claimCutoffMs' | 'turnSpacingMs' | 'jitterMinMs' | 'jitterMaxMs'>
  fleet: LeaseFleet
  /** This agent's own voter. */
  own: OwnVote
  clock: Clock
  /**
   * send delivers a claim, act or release to each of `voters` (never this host: its own vote
   * goes through `own`); their answers come back through hear(). Resolves when every
   * exchange ended, answered or not.
   */
  send: (msg: Request, voters: readonly string[]) => Promise<void>
  /** random returns an integer in [0, n): jitter and slot choice. Default crypto.randomInt. */
  random?: (n: number) => number
  log: Logger
}

/** Claimant runs this host's attempts; it is the UpdateSlots the reconciler uses. */
export class Claimant implements UpdateSlots {
  private readonly opts: ClaimantOptions
  private readonly random: (n: number) => number
  private readonly attempts = new Map<string, Attempt>()
  /** Monotonic ms before which no new claim for the DaemonSet is sent (its turn, or a back-off). */
  private readonly retryAt = new Map<string, number>()
  /** Why the DaemonSet's update waits, for status. */
  private readonly why = new Map<string, string>()
  private readonly granted: ((ds: string) => void)[] = []

  constructor(opts: ClaimantOptions) {
    this.opts = opts
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
      if (a.phase === 'acting') return { phase: 'acting', term: a.term }
      if (a.phase === 'granted') return this.young(a) ? { phase: 'granted', term: a.term } : { phase: 'waiting', why: 'the grant aged before the update began' }
      return { phase: 'waiting', why: this.why.get(ds) ?? 'waiting for a majority of the fleet to grant an update slot' }
    }
    if (!this.retryAt.has(ds)) return { phase: 'idle' }
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
    const at = this.retryAt.get(ds)
    if (at === undefined) {
      // First wish for this update: wait for this host's turn before claiming.
      this.retryAt.set(ds, this.backoff(ds, revision))
      return
    }
    if (at > this.now()) return
    this.start(ds, revision, kind)
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
    this.attempts.delete(ds)
    this.why.delete(ds)
    this.retryAt.delete(ds)
    this.opts.log.info({ daemonset: ds, kind: a.kind, slot: a.slot, term: a.term }, 'update slot released')
    this.giveBack(a)
  }

  holding(ds: string): boolean {
    return this.attempts.get(ds)?.phase === 'acting'
  }

  onGranted(fn: (ds: string) => void): void {
    this.granted.push(fn)
  }

  /**
   * backoff returns when this host may claim: now, plus jitter, plus its turn (its place
   * among the hosts still to update, turnSpacingMs a place), so hosts rarely claim one slot
   * at once and split the votes. A courtesy, not a rule: safety comes from the votes alone.
   */
  private backoff(ds: string, revision: string): number {
    const { jitterMinMs, jitterMaxMs, turnSpacingMs } = this.opts.timings
    const jitter = jitterMinMs + this.random(jitterMaxMs - jitterMinMs)
    return this.now() + jitter + turnSpacingMs * this.opts.fleet.turn(ds, revision, this.opts.selfName())
  }

  /** start picks a free slot and claims it: this host's own vote first (saved), then the claim to every other voter. */
  private start(ds: string, revision: string, kind: SlotKind): void {
    const limit = this.opts.fleet.limit(ds, kind)
    if (limit === 0) {
      this.why.set(ds, `no ${kind} slots`)
      return
    }
    const held = this.opts.own.held(ds, kind)
    const free: number[] = []
    for (let i = 0; i < limit; i++) {
      const h = held.find((x) => x.slot === i)
      if (h === undefined || h.holder === this.opts.keyId) free.push(i)
    }
    if (free.length === 0) {
      this.why.set(ds, `every ${kind} slot is held (${held.length} of ${limit})`)
      this.retryAt.set(ds, this.backoff(ds, revision))
      return
    }
    const slot = free[this.random(free.length)] as number
    const voters = this.opts.fleet.voters()
    const { view, quorum } = viewOf(voters, this.opts.fleet.faulty())
    const term = this.opts.own.maxTerm(ds, kind, slot) + 1
    const msg: ClaimMessage = { t: 'claim', ds, kind, slot, term, revision, view }
    const a: Attempt = { ds, kind, slot, term, revision, quorum, voters: new Set(voters), sentAt: this.now(), grants: new Set(), acks: new Set(), phase: 'claiming' }
    const own = this.opts.own.claim(msg)
    if (!own.grant) {
      this.why.set(ds, own.reason)
      this.retryAt.set(ds, this.backoff(ds, revision))
      return
    }
    a.grants.add(this.opts.keyId)
    this.attempts.set(ds, a)
    void this.opts.own.save().then(() => this.opts.send(msg, this.others(a)))
    if (a.grants.size >= a.quorum) void this.announce(a)
  }

  /** others returns the attempt's voters but this host: those its claim, act and release go to. */
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
    this.why.delete(a.ds)
    this.opts.log.info({ daemonset: a.ds, kind: a.kind, slot: a.slot, term: a.term, grants: a.grants.size, quorum: a.quorum }, 'update slot acquired')
    for (const fn of this.granted) fn(a.ds)
  }

  /** abandon drops an attempt nothing was done under and frees its votes at once rather than after the TTL. */
  private abandon(a: Attempt, why: string): void {
    this.attempts.delete(a.ds)
    this.why.set(a.ds, why)
    this.retryAt.set(a.ds, this.backoff(a.ds, a.revision))
    this.giveBack(a)
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
    const t = this.now()
    const cutoff = Math.min(this.opts.ttlMs / 2, this.opts.timings.claimCutoffMs)
    for (const ds of new Set([...this.retryAt.keys(), ...this.why.keys()])) {
      if (!this.attempts.has(ds) && this.opts.fleet.daemonSet(ds) === undefined) {
        this.retryAt.delete(ds)
        this.why.delete(ds)
      }
    }
    for (const a of [...this.attempts.values()]) {
      if (this.opts.fleet.daemonSet(a.ds) === undefined) {
        this.attempts.delete(a.ds)
        this.retryAt.delete(a.ds)
        this.why.delete(a.ds)
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
