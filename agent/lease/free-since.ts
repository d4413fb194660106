// When each slot (`ds|kind|slot`) was first seen free by this host, while it stays free: a
// claimant's fallback takes only a slot that stayed free for turnSpacingMs, since a slot that
// just freed goes to the host at the head of the line (docs/rollout.md, pacing).

import type { SlotKind } from '../../core/lease.js'

/** FreeSince remembers since when each free slot has been free. Times are the caller's monotonic ms. */
export class FreeSince {
  private readonly since = new Map<string, number>()

  /** idle notes when each of `free` was first seen free (forgetting the slots no longer free) and returns those free for `minMs` already at `now`. */
  idle(ds: string, kind: SlotKind, free: readonly number[], now: number, minMs: number): number[] {
    const prefix = `${ds}|${kind}|`
    const freeKeys = new Set(free.map((slot) => `${prefix}${slot}`))
    for (const k of this.since.keys()) if (k.startsWith(prefix) && !freeKeys.has(k)) this.since.delete(k)
    for (const k of freeKeys) if (!this.since.has(k)) this.since.set(k, now)
    return free.filter((slot) => now - (this.since.get(`${prefix}${slot}`) as number) >= minMs)
  }

  /** at returns since when a slot has been seen free, or undefined. */
  at(ds: string, kind: SlotKind, slot: number): number | undefined {
    return this.since.get(`${ds}|${kind}|${slot}`)
  }

  /** forget drops a DaemonSet's slots. */
  forget(ds: string): void {
    for (const k of this.since.keys()) if (k.startsWith(`${ds}|`)) this.since.delete(k)
  }
}
