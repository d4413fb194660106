// The pure parts of SWIM failure detection with the Lifeguard extensions (as HashiCorp
// memberlist implements them): member state transitions under incarnation numbers, the
// suspicion timeout that grows with log N and shrinks with independent confirmations, the
// local-health (awareness) score, and the random choices (probe order, indirect probers)
// through an injected random source. No I/O, no clock, no timers here: agent/membership
// drives these with its Clock and Transport, and a simulator can drive them in virtual time.

/** Random returns a number in [0, 1); Math.random in production, a seeded source in a simulator. */
export type Random = () => number

/** SwimStatus is a member's liveness as SWIM knows it (a clean leave is the record's business, not SWIM's). */
export type SwimStatus = 'alive' | 'suspect' | 'failed'

/** SwimState is what this agent believes of one member's current life. */
export interface SwimState {
  status: SwimStatus
  /** The member's incarnation: a counter only the member raises, to refute a suspicion of itself. */
  incarnation: number
  /** When the member's process started (its record's startedAt): a later one is a new life. */
  startedAt: number
}

/**
 * SwimEvent is one piece of news about a member: its own record (alive, with the incarnation
 * and start time it signed), or another member's suspicion or failure verdict at an incarnation.
 */
export type SwimEvent = { kind: 'alive'; incarnation: number; startedAt: number } | { kind: 'suspect'; incarnation: number } | { kind: 'failed'; incarnation: number }

/**
 * transition applies news to a member's state and returns the new state, or undefined when
 * the news changes nothing (stale, or what we already believe). The rules:
 *  1. alive from a later start time is a new life (a restarted host): it replaces anything.
 *     Anything about an earlier life than the one we know is stale.
 *  2. alive(i) overrides suspect(j) and failed(j) iff i > j, and alive(j) iff i > j
 *     (a refutation, or a newer incarnation we had missed).
 *  3. suspect(i) overrides alive(j) iff i >= j; suspect(j) iff i > j (a new suspicion of a
 *     later incarnation; i == j is a confirmation, which the caller counts); failed(j) iff
 *     i > j (the member refuted at an incarnation we missed, and is suspected again).
 *  4. failed(i) overrides alive(j) and suspect(j) iff i >= j; failed(j) iff i > j.
 *     So failed is final for its incarnation: only the member itself, with a higher
 *     incarnation (or a new life), brings it back.
 */
export function transition(cur: SwimState, ev: SwimEvent): SwimState | undefined {
  if (ev.kind === 'alive') {
    if (ev.startedAt > cur.startedAt) return { status: 'alive', incarnation: ev.incarnation, startedAt: ev.startedAt }
    if (ev.startedAt < cur.startedAt) return undefined
    return ev.incarnation > cur.incarnation ? { status: 'alive', incarnation: ev.incarnation, startedAt: cur.startedAt } : undefined
  }
  const i = ev.incarnation
  const j = cur.incarnation
  const wins = ev.kind === 'suspect' ? (cur.status === 'alive' ? i >= j : i > j) : cur.status === 'failed' ? i > j : i >= j
  return wins ? { status: ev.kind, incarnation: i, startedAt: cur.startedAt } : undefined
}

/** SuspicionBounds are the shortest and the longest suspicion timeouts for a fleet of a given size. */
export interface SuspicionBounds {
  minMs: number
  maxMs: number
}

/**
 * suspicionBounds returns memberlist's timeout bounds for a fleet of `members` (this agent
 * included): min = floorMs * max(1, log10(members)), max = maxMult * min. `floorMs` is the
 * configured suspicion timeout (in memberlist terms suspicionMult * probeInterval): what a
 * fleet of up to 10 hosts waits once enough members agree.
 */
export function suspicionBounds(members: number, floorMs: number, maxMult: number): SuspicionBounds {
  const minMs = Math.floor(floorMs * Math.max(1, Math.log10(Math.max(1, members))))
  return { minMs, maxMs: Math.floor(Math.max(1, maxMult) * minMs) }
}

/**
 * expectedConfirmations returns k, the independent suspicions (beyond the first) that bring
 * the timeout down to its minimum: `wanted`, but never more than there are members besides
 * the suspect and the first suspecter.
 */
export function expectedConfirmations(wanted: number, members: number): number {
  return Math.max(0, Math.min(wanted, members - 2))
}

/**
 * suspicionTimeout returns Lifeguard's timeout after `confirmations` independent suspicions
 * beyond the first: max(min, max - (max - min) * log(C + 1) / log(k + 1)). With no
 * confirmation to wait for (k = 0) it is the minimum.
 */
export function suspicionTimeout(bounds: SuspicionBounds, k: number, confirmations: number): number {
  if (k < 1) return bounds.minMs
  const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1)
  return Math.max(bounds.minMs, Math.floor(bounds.maxMs - (bounds.maxMs - bounds.minMs) * frac))
}

/**
 * Awareness is Lifeguard's local health score, 0 (healthy) to max - 1: probes that fail
 * without the helpers' nacks, and having to refute a suspicion of ourselves, raise it; a
 * successful probe lowers it. A slow agent then stretches its own probe timeout and period
 * (scale) instead of suspecting healthy members it is too slow to hear.
 */
export class Awareness {
  private score = 0
  private readonly max: number

  constructor(max: number) {
    this.max = Math.max(1, Math.floor(max))
  }

  /** apply adds delta to the score, within [0, max - 1]. */
  apply(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta))
  }

  /** health returns the score: 0 is healthy. */
  health(): number {
    return this.score
  }

  /** scale returns `ms` stretched by the score: ms * (score + 1). */
  scale(ms: number): number {
    return ms * (this.score + 1)
  }
}

/**
 * RandomSet is a set with O(1) add, delete and uniform random pick (an array and an index),
 * so that choosing probe helpers or dial candidates costs the same in any fleet size.
 */
export class RandomSet<T> {
  private readonly items: T[] = []
  private readonly index = new Map<T, number>()

  get size(): number {
    return this.items.length
  }

  has(item: T): boolean {
    return this.index.has(item)
  }

  add(item: T): void {
    if (this.index.has(item)) return
    this.index.set(item, this.items.length)
    this.items.push(item)
  }

  delete(item: T): void {
    const i = this.index.get(item)
    if (i === undefined) return
    const last = this.items.pop() as T
    this.index.delete(item)
    if (i < this.items.length) {
      this.items[i] = last
      this.index.set(last, i)
    }
  }

  values(): readonly T[] {
    return this.items
  }

  /**
   * sample returns up to `n` distinct items for which `ok` holds, chosen uniformly; it makes
   * at most max(4n, 16) random draws (so its cost does not grow with the set) and may return
   * fewer when most items are excluded.
   */
  sample(n: number, random: Random, ok: (item: T) => boolean = () => true): T[] {
    const out: T[] = []
    if (n <= 0 || this.items.length === 0) return out
    const picked = new Set<number>()
    const draws = Math.max(4 * n, 16)
    for (let d = 0; d < draws && out.length < n && picked.size < this.items.length; d++) {
      const i = Math.floor(random() * this.items.length)
      if (picked.has(i)) continue
      picked.add(i)
      const item = this.items[i] as T
      if (ok(item)) out.push(item)
    }
    return out
  }
}

/**
 * ProbeOrder is memberlist's probe schedule: round-robin over a shuffled list of the
 * members, reshuffled at the start of each round, so every member is probed once per round
 * by each agent (a bounded time to first detection) yet in an order no one can predict. A
 * member that joins mid-round goes in at a random place among those still to come. Members
 * that left the set are skipped when their turn comes. Cost: O(1) per probe, amortised.
 */
export class ProbeOrder {
  private order: string[] = []
  private pos = 0
  private readonly random: Random

  constructor(random: Random) {
    this.random = random
  }

  /** add puts a new member among those still to be probed this round. */
  add(id: string): void {
    this.order.push(id)
    const j = this.pos + Math.floor(this.random() * (this.order.length - this.pos))
    const last = this.order.length - 1
    ;[this.order[j], this.order[last]] = [this.order[last] as string, this.order[j] as string]
  }

  /** next returns the next member to probe for which `ok` holds, starting a new round (a fresh shuffle of `members`) when this one is done. */
  next(members: readonly string[], ok: (id: string) => boolean): string | undefined {
    for (let round = 0; round < 2; round++) {
      while (this.pos < this.order.length) {
        const id = this.order[this.pos++] as string
        if (ok(id)) return id
      }
      this.order = shuffled(members, this.random)
      this.pos = 0
    }
    return undefined
  }
}

/** shuffled returns a Fisher-Yates shuffled copy of `items`. */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a
}

/**
 * RoundTrips estimates how long an ack takes (Jacobson/Karels, as TCP's retransmission
 * timeout): a smoothed round trip and its variation, from successful pings. A fleet on
 * starved hosts answers slowly; probing it with a fixed timeout would suspect everyone.
 */
export class RoundTrips {
  private srtt: number | undefined
  private rttvar = 0

  /** add folds in one measured round trip (ms). */
  add(ms: number): void {
    if (this.srtt === undefined) {
      this.srtt = ms
      this.rttvar = ms / 2
      return
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms)
    this.srtt = 0.875 * this.srtt + 0.125 * ms
  }

  /** timeout returns srtt + 4 * rttvar, within [floorMs, capMs] (floorMs before any measurement). */
  timeout(floorMs: number, capMs: number): number {
    if (this.srtt === undefined) return floorMs
    return Math.round(Math.min(capMs, Math.max(floorMs, this.srtt + 4 * this.rttvar)))
  }
}
