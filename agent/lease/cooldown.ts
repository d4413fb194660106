// How long a claimant stays off the fast path after a failed attempt, per DaemonSet: a
// jitter that doubles with each failure in a row, so hosts that collided do not collide
// again, a host refused once is back in line soon, and one refused again and again backs
// off. (Cooling for a plain jitter let a 100-host fleet at 10 % storm with refused claims;
// cooling until the fallback held every host behind a refused one for up to its whole
// fallback: docs/fleet-speed.md.) Pure bookkeeping: the caller supplies the times.

/** Cooling is how a failed attempt cools: `doubled` per failure in a row, `once` a plain jitter (not counted as a failure), `none` not at all. */
export type Cooling = 'doubled' | 'once' | 'none'

/** Cooldown keeps, per DaemonSet, the failures in a row and the monotonic ms until which the fast path is shut. */
export class Cooldown {
  private readonly until = new Map<string, number>()
  private readonly failures = new Map<string, number>()

  /**
   * failed records a failed attempt at `now` and shuts the fast path for `jitter` ms (times
   * 2^(failures in a row - 1) when `doubled`, at most 2^16), never past `latest` (the
   * fallback time, when the host claims anyway).
   */
  failed(ds: string, cooling: Cooling, now: number, jitter: number, latest: number): void {
    if (cooling === 'none') return
    let doublings = 0
    if (cooling === 'doubled') {
      const failures = (this.failures.get(ds) ?? 0) + 1
      this.failures.set(ds, failures)
      doublings = Math.min(failures - 1, 16)
    }
    this.until.set(ds, Math.min(latest, now + jitter * 2 ** doublings))
  }

  /** cooling reports whether the fast path is shut for ds at `now`. */
  cooling(ds: string, now: number): boolean {
    const until = this.until.get(ds)
    if (until === undefined) return false
    if (until > now) return true
    this.until.delete(ds)
    return false
  }

  /** open opens the fast path again (a claim goes out, or the fallback time came); the failures in a row stand. */
  open(ds: string): void {
    this.until.delete(ds)
  }

  /** succeeded resets the failures in a row (a slot was granted). */
  succeeded(ds: string): void {
    this.failures.delete(ds)
  }

  /** forget drops everything kept for ds. */
  forget(ds: string): void {
    this.until.delete(ds)
    this.failures.delete(ds)
  }
}
