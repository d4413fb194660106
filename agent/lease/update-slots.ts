// What the reconciler sees of the lease: one update slot per DaemonSet, claimed, entered
// under the TTL/2 fence, and released (the Claimant implements it: claimant.ts).

import type { SlotKind } from '../../core/lease.js'
import type { SlotAnswer } from '../../core/pass.js'

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

