// How a slot passes from one host to the next, as this host sees it: which slots other hosts
// hold and which hosts are not waiting in line (its own voter's table, the holders' records,
// and the releases heard ahead of those records), to whom this host's own release goes as a
// hint (the head of the line, off the committee), and which of two hosts claiming one slot
// at once yields. Pacing only: the votes decide.

import type { ClaimMessage, SlotKind } from '../../core/lease.js'
import { freeSlots, othersHolds, type Holder } from '../../core/pacing.js'
import type { Attempt, ClaimantOptions } from './attempt.js'
import type { LeaseFleet } from './fleet-view.js'
import type { SlotRef } from './voter.js'
import { Released } from './released.js'

/** HINTED bounds the hosts at the head of the line a release is also sent to (one per free slot). */
const HINTED = 3

/** SlotsSeen is a DaemonSet's slots as this host sees them: those other hosts hold, and the hosts not waiting in line. */
export interface SlotsSeen {
  held: Holder[]
  moving: Set<string>
}

/** Handover keeps the releases heard and answers what the claimant's pacing asks of them. */
export class Handover {
  private readonly opts: Pick<ClaimantOptions, 'keyId' | 'fleet' | 'own' | 'send' | 'log'>
  private readonly released = new Released()

  constructor(opts: Pick<ClaimantOptions, 'keyId' | 'fleet' | 'own' | 'send' | 'log'>) {
    this.opts = opts
  }

  /**
   * seen returns the slots of ds held by other hosts (those this host's own voter gave, then
   * those other hosts' records report, less those whose holder's release this host heard),
   * and the hosts not waiting in ds's line: those holding a slot, and those that released one
   * they held while their record may not say so yet (those this host's own voter saw finish,
   * and those whose record still reports the slot they released). A release of a claim never
   * granted matches no reported hold: that host is still in line.
   */
  seen(ds: string, kind: SlotKind): SlotsSeen {
    const reported = this.opts.fleet.reportedHolds(ds, kind)
    const freed = reported.filter((h) => this.released.freed(h.holder, ds, kind, h.slot, h.term))
    const held = othersHolds(
      this.opts.own.held(ds, kind),
      reported.filter((h) => !freed.includes(h)),
      this.opts.keyId,
    )
    return { held, moving: new Set([...held.map((h) => h.holder), ...this.opts.own.finished(ds), ...freed.map((h) => h.holder)]) }
  }

  /**
   * heard notes a holder's release (sent to this host as a voter, or as a hint): the slot is
   * free by the holder's own word, ahead of its record. Returns true when it is a hint to
   * this host (it is off ds's committee, so the release came to it as the head of the line).
   */
  heard(from: string, msg: SlotRef, now: number): boolean {
    if (this.opts.fleet.daemonSet(msg.ds) === undefined) return false
    this.released.note(from, msg.ds, msg, now)
    return !this.opts.fleet.committee(msg.ds).includes(this.opts.keyId)
  }

  /**
   * tellNext sends this host's release of `a` also to the hosts at the head of the line as it
   * sees it, one per free slot (at most HINTED), those off the committee (the committee has
   * it): their lease wakes them on a release, so the next host claims now rather than at its
   * next tick, after this host's record has reached it. Each looks at its own view of the
   * line and the slots.
   */
  tellNext(a: Attempt): void {
    const { held, moving } = this.seen(a.ds, a.kind)
    const free = freeSlots(this.opts.fleet.limit(a.ds, a.kind), new Map(held.map((h) => [h.slot, h.holder])), this.opts.keyId)
    const next = this.opts.fleet.head(a.ds, a.revision, Math.min(HINTED, Math.max(1, free.length)), new Set([this.opts.keyId, ...moving])).filter((k) => !a.voters.has(k))
    if (next.length === 0) return
    this.opts.log.debug({ daemonset: a.ds, slot: a.slot, to: next.map((k) => this.opts.fleet.nameOf(k) ?? k) }, 'release sent to the head of the line too')
    void this.opts.send({ t: 'release', ds: a.ds, kind: a.kind, slot: a.slot, term: a.term }, next)
  }

  /** prune forgets the releases heard `maxAgeMs` or more before `now`, and those of DaemonSets gone. */
  prune(now: number, maxAgeMs: number): void {
    this.released.prune(now, maxAgeMs, (ds) => this.opts.fleet.daemonSet(ds) !== undefined)
  }
}

/**
 * rivalOf says whether `from`'s claim `msg`, which this agent's voter answered, rivals this
 * host's attempt `a`: it is for the slot this host is claiming (no quorum yet) and could win
 * (same revision and voter set, from a host the voter finds eligible: whichever claim reaches
 * a voter first has it). Both hosts then claimed one slot at once (their views of the free
 * slots differed), and the one behind in line (by name, as the line is) yields: it abandons
 * at once, freeing its votes for the one ahead, and cools; the one ahead keeps its claim and,
 * if the split still cost it the quorum, claims again without cooling when the yielder's
 * release wakes it. Without this both backed off, and the host at the head of the line,
 * cooling, held up every host behind it (docs/fleet-speed.md). A courtesy like the rest of
 * the pacing: the votes decide. A member's claims past the voter's answer rate are not
 * answered, and so make no one yield. Returns the rival's name and whether it is ahead of
 * this host (`self`, named `selfName`), or undefined when it is no rival.
 */
export function rivalOf(a: Attempt, from: string, msg: ClaimMessage, fleet: LeaseFleet, self: string, selfName: string): { name: string; ahead: boolean } | undefined {
  if (a.phase !== 'claiming' || from === self) return undefined
  if (msg.kind !== a.kind || msg.slot !== a.slot || msg.revision !== a.revision || msg.view !== a.view) return undefined
  const name = fleet.nameOf(from)
  if (name === undefined || fleet.voterView(self).ineligible(msg.ds, from) !== undefined) return undefined
  return { name, ahead: name < selfName }
}
