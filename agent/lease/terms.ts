// What a claimant knows of each slot's terms besides its own voter's table: the terms it
// claimed with, those refusals told (core/lease.ts termSeenIn), and those holders' records
// report. A host off a DaemonSet's committee hears no other claims, so this is all it knows;
// the term it asks is one above, and at least its wall clock in seconds. Pure bookkeeping:
// nothing here is trusted for safety (a term is a fencing token whose value only has to
// grow at each voter; docs/rollout.md).

import type { SlotKind } from '../../core/lease.js'

const slotKey = (ds: string, kind: SlotKind, slot: number): string => `${ds}|${kind}|${slot}`

/**
 * believable says whether a term another host's record reports may be taken: not more than
 * 2^31 above this host's clock in seconds. Honest terms stay near the clock (one a second,
 * one per attempt); a member that reports a term far beyond what voters accept (MAX_TERM_STEP
 * above theirs) would otherwise make the hosts off the committee ask it, be refused, and ask
 * it again for as long as its record says so.
 */
export function believable(term: number, wallMs: number): boolean {
  return term <= Math.floor(wallMs / 1000) + 2 ** 31
}

/** TermBook keeps the highest term known per slot (`ds|kind|slot`), per DaemonSet until forgotten. */
export class TermBook {
  private readonly known = new Map<string, number>()

  /** note records that `slot` of ds was claimed with `term` (a claim of ours, a holder's record). */
  note(ds: string, kind: SlotKind, slot: number, term: number): void {
    const k = slotKey(ds, kind, slot)
    if (term > (this.known.get(k) ?? 0)) this.known.set(k, term)
  }

  /**
   * learn keeps the highest term of the slot that at least f+1 refusals of one claim told:
   * up to f voters may lie, and a term too far ahead would be refused by the honest ones.
   */
  learn(ds: string, kind: SlotKind, slot: number, told: readonly number[], f: number): void {
    const term = [...told].sort((x, y) => y - x)[f]
    if (term !== undefined) this.note(ds, kind, slot, term)
  }

  /**
   * next returns the term to claim the slot with: one above the highest known here, by this
   * host's own voter (`own`) or in the holds other hosts' records report (`reported`), and at
   * least `wallMs` in seconds, so that a host off the committee rarely asks a stale term
   * (terms then grow about one a second wherever they were asked). A skewed clock costs at
   * most a refusal that tells the slot's term; never more than 2^31 above what is known
   * (voters refuse a term MAX_TERM_STEP ahead of theirs).
   */
  next(ds: string, kind: SlotKind, slot: number, own: number, reported: readonly { slot: number; term: number }[], wallMs: number): number {
    let top = Math.max(own, this.known.get(slotKey(ds, kind, slot)) ?? 0)
    for (const h of reported) if (h.slot === slot && h.term > top && believable(h.term, wallMs)) top = h.term
    return Math.max(top + 1, Math.min(Math.floor(wallMs / 1000), top + 2 ** 31))
  }

  /** forget drops what is known of a DaemonSet's slots. */
  forget(ds: string): void {
    for (const k of this.known.keys()) if (k.startsWith(`${ds}|`)) this.known.delete(k)
  }
}
