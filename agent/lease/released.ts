// The releases this host heard, as the holders' own word that a slot is free: a holder sends
// its release to the DaemonSet's committee and, as a hint, to the hosts at the head of the
// line (claimant.ts tellNext). Until the holder's record says the same (gossip, later), a host
// off the committee would still count the slot busy from that record; with the release heard
// it does not. Kept per holder and DaemonSet for a bounded time, and only the newest.

import type { SlotKind } from '../../core/lease.js'

/** HeardRelease is a release a holder sent: which of its slots, under which term, and when it was heard (monotonic ms). */
interface HeardRelease {
  kind: SlotKind
  slot: number
  term: number
  at: number
}

/** Released keeps the releases heard lately. */
export class Released {
  private readonly byHolder = new Map<string, Map<string, HeardRelease>>()

  /** note records that `holder` released its slot of ds under `term`, heard at `at`. */
  note(holder: string, ds: string, r: { kind: SlotKind; slot: number; term: number }, at: number): void {
    const mine = this.byHolder.get(holder) ?? new Map<string, HeardRelease>()
    const known = mine.get(ds)
    if (known !== undefined && known.term > r.term) return
    mine.set(ds, { kind: r.kind, slot: r.slot, term: r.term, at })
    this.byHolder.set(holder, mine)
  }

  /** freed says whether `holder` released the slot of ds under `term` or a later one. */
  freed(holder: string, ds: string, kind: SlotKind, slot: number, term: number): boolean {
    const r = this.byHolder.get(holder)?.get(ds)
    return r !== undefined && r.kind === kind && r.slot === slot && r.term >= term
  }

  /** prune forgets releases heard `maxAgeMs` or more before `now`, and those of DaemonSets `keep` rejects. */
  prune(now: number, maxAgeMs: number, keep: (ds: string) => boolean = () => true): void {
    for (const [holder, mine] of this.byHolder) {
      for (const [ds, r] of mine) if (now - r.at >= maxAgeMs || !keep(ds)) mine.delete(ds)
      if (mine.size === 0) this.byHolder.delete(holder)
    }
  }
}
