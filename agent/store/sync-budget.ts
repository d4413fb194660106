// What one peer may make an anti-entropy responder do per interval: exchanges served and
// bytes written. An initiator's offer is 25 bytes and can ask for every bucket; without a
// budget a peer that repeats it makes the responder diff and send its maps over and over.
// An honest peer starts one exchange per period, or per nudge (at most one a second), and a
// newcomer's catch-up (3 MiB per map per exchange) fits the byte budget several times over.
// No I/O: the caller passes monotonic time.

/** Per-peer budget of an anti-entropy responder (docs/security.md "Bounds"). */
export const SYNC_PEER_BUDGET = {
  /** The interval budgets refill at (monotonic ms). */
  intervalMs: 10_000,
  /** Exchanges served to one peer per interval. */
  exchanges: 30,
  /** Bytes of frames written to one peer per interval; an exchange under way finishes, so a peer may pass it by one exchange's frames. */
  bytes: 16 * 1024 * 1024,
  /** Peers tracked at once: past it (after the expired go), an exchange from a peer not tracked is refused for the rest of the interval. */
  maxPeers: 1024,
}

interface Spent {
  since: number
  exchanges: number
  bytes: number
  refused: number
}

/** Refusal is why an exchange is refused; `first` is true for a peer's first refusal of the interval (logged once). */
export interface Refusal {
  reason: string
  first: boolean
}

/** PeerBudget counts what each peer spent in its current interval. Not for concurrent use; synchronous. */
export class PeerBudget {
  private readonly spent = new Map<string, Spent>()
  private readonly limits: typeof SYNC_PEER_BUDGET

  constructor(limits: typeof SYNC_PEER_BUDGET = SYNC_PEER_BUDGET) {
    this.limits = limits
  }

  /** admit counts an exchange `peer` starts at `now`, or says why it is refused (it is then not counted). */
  admit(peer: string, now: number): Refusal | undefined {
    const l = this.limits
    let s = this.spent.get(peer)
    if (s !== undefined && now - s.since >= l.intervalMs) s = undefined
    if (s === undefined) {
      if (!this.spent.has(peer) && this.spent.size >= l.maxPeers) {
        for (const [p, x] of this.spent) if (now - x.since >= l.intervalMs) this.spent.delete(p)
        if (this.spent.size >= l.maxPeers) return { reason: `${l.maxPeers} peers already exchanged within ${l.intervalMs / 1000} s`, first: true }
      }
      s = { since: now, exchanges: 0, bytes: 0, refused: 0 }
      this.spent.set(peer, s)
    }
    const why =
      s.exchanges >= l.exchanges ? `${s.exchanges} exchanges within ${l.intervalMs / 1000} s (at most ${l.exchanges})` : s.bytes >= l.bytes ? `${s.bytes} bytes sent within ${l.intervalMs / 1000} s (at most ${l.bytes})` : undefined
    if (why !== undefined) return { reason: why, first: s.refused++ === 0 }
    s.exchanges++
    return undefined
  }

  /** spend counts bytes written to `peer` in its current interval. */
  spend(peer: string, bytes: number): void {
    const s = this.spent.get(peer)
    if (s !== undefined) s.bytes += bytes
  }

  /** tracked is how many peers are counted (at most maxPeers). */
  get tracked(): number {
    return this.spent.size
  }
}
