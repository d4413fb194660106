// When a host waiting to update claims an update slot, and which one: the pacing of a
// rollout, pure. Lanes (laneOf): every host of the rollout, by name, has the slot of its
// lane, and follows the hosts before it in that lane, so `limit` hosts move at once
// whatever the fleet's size, a slot that frees goes to the next host of its lane, and hosts
// whose views of the free slots differ for a moment still claim different slots. The line
// (claimTurn), for a host that is not in the rollout's list as it sees it: the hosts still
// to update, by name, take the free slots in order. This is a courtesy that keeps claims from
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

/** Lane is a host's slot in a rollout, and whether every host before it in that slot's lane is done. */
export interface Lane {
  slot: number
  ready: boolean
}

/**
 * laneOf returns the lane of `self` among `hosts` (every host of the rollout, done or not,
 * sorted by name): the host at index i uses slot i mod limit, once the hosts at i - limit,
 * i - 2·limit, … are all `done`. Undefined when self is not among them or there are no slots.
 * Because done hosts keep their places, the lanes do not shift as the rollout advances: two
 * hosts claim one slot only when their lists of hosts differ (a host joined, left or changed
 * labels meanwhile).
 */
export function laneOf(hosts: readonly string[], self: string, limit: number, done: (host: string) => boolean): Lane | undefined {
  const i = hosts.indexOf(self)
  if (limit <= 0 || i < 0) return undefined
  for (let j = i - limit; j >= 0; j -= limit) if (!done(hosts[j] as string)) return { slot: i % limit, ready: false }
  return { slot: i % limit, ready: true }
}
