// When a host waiting to update claims an update slot, and which one: the pacing of a
// rollout, pure. The hosts still to update form a line by name; the free slots are handed
// down the line, so `limit` hosts move at once whatever the fleet's size, and a slot that
// frees goes to the next host in line at once. This is a courtesy that keeps claims from
// colliding: safety comes from the votes alone (core/lease.ts, docs/rollout.md). Pure: the
// caller supplies the line, the slots and the spacing.

/** ClaimTurn says what a waiting host does now: claim a given slot, or look again later. */
export type ClaimTurn = { now: true; slot: number } | { now: false; waitMs: number; round: number }

/**
 * claimTurn decides for the host at `place` (0-based) in the line of hosts still to update
 * that hold no slot, given the DaemonSet's `limit` slots, the slot indices `free` now (as
 * this host's own voter sees them) and the fallback spacing:
 * 1. place < free.length: claim now, the place-th free slot, so the hosts of one round
 *    claim different slots and do not split the votes;
 * 2. otherwise the host is `round` = 1 + floor((place - free.length) / limit) rounds away:
 *    it waits for a slot to free (the release wakes it), and looks again after
 *    `spacingMs` per round in case no release reaches it (lost, or its view is stale).
 * With no slots at all (limit 0) there is nothing to claim: it waits one spacing.
 */
export function claimTurn(place: number, limit: number, free: readonly number[], spacingMs: number): ClaimTurn {
  if (limit <= 0) return { now: false, waitMs: spacingMs, round: 1 }
  const slot = free[place]
  if (place >= 0 && slot !== undefined) return { now: true, slot }
  const round = 1 + Math.floor((Math.max(0, place) - free.length) / limit)
  return { now: false, waitMs: spacingMs * round, round }
}

/** freeSlots returns the slot indices below `limit` that no other host holds (`heldBy` maps a busy slot to its holder). */
export function freeSlots(limit: number, heldBy: ReadonlyMap<number, string>, self: string): number[] {
  const out: number[] = []
  for (let i = 0; i < limit; i++) {
    const h = heldBy.get(i)
    if (h === undefined || h === self) out.push(i)
  }
  return out
}

/**
 * othersHolds returns the busy slots held by hosts other than `self`: those this host's own
 * voter gave (`own`: on the DaemonSet's committee it hears every claim and release), then
 * those other hosts' records report (`reported`: how a host off the committee sees them),
 * one holder per slot.
 */
export function othersHolds(own: readonly Holder[], reported: readonly Holder[], self: string): Holder[] {
  const out: Holder[] = []
  const slots = new Set<number>()
  for (const h of [...own, ...reported]) {
    if (h.holder === self || slots.has(h.slot)) continue
    slots.add(h.slot)
    out.push({ holder: h.holder, slot: h.slot })
  }
  return out
}

/** Holder is a busy slot and the host holding it. */
export interface Holder {
  holder: string
  slot: number
}

/** WAITING_FOR_A_SLOT is what a host's record says while it waits its turn for an update slot, whatever the detail. */
export const WAITING_FOR_A_SLOT = 'waiting for an update slot'

// The claimant's reasons that only say the slots are busy for now (its place in line, a
// slot held by another host, a term another host used first, the budget in use): they change
// with every hand-over, and carry terms, counts and key ids.
const slotContention = [/^waiting for its turn$/, /^waiting for a majority/, /^every \w+ slot is held/, /^slot \d+ held by /, /^stale term /, /^yielded slot /, /^already holds /, /host\(s\) already (unavailable|surging)/]

/**
 * waitingReason returns what a host's node record says about why its update waits, from
 * the claimant's reason `why`: every reason that only means "the slots are busy for now" is
 * the one WAITING_FOR_A_SLOT, and a reason's counts are left out ("no majority answered").
 * The record is gossiped to the whole fleet each time it changes; the detailed reason
 * changes with every claim and hand-over, and with 100 hosts waiting at once those changes
 * cost every agent more than the rollout's own messages (docs/fleet-speed.md). What stays
 * is what an operator acts on: a fleet that cannot answer, voters that disagree, a fenced
 * grant, a released slot. The detail is in the host's own log (debug).
 */
export function waitingReason(why: string): string {
  if (slotContention.some((re) => re.test(why))) return WAITING_FOR_A_SLOT
  if (why.startsWith('no majority answered')) return 'no majority answered'
  return why
}
