// A claimant's fallback times: per DaemonSet, when this host looks at its turn again
// whatever happened meanwhile, and the timer that does it (docs/rollout.md, pacing). Time is
// the injected Clock's monotonic time.

import type { Clock, Timer } from '../clock.js'

/** Retries holds one fallback time and its timer per DaemonSet. */
export class Retries {
  private readonly clock: Clock
  private readonly times = new Map<string, number>()
  private readonly timers = new Map<string, Timer>()

  constructor(clock: Clock) {
    this.clock = clock
  }

  /** at returns the DaemonSet's fallback time (monotonic ms), or undefined when none is set. */
  at(ds: string): number | undefined {
    return this.times.get(ds)
  }

  has(ds: string): boolean {
    return this.times.has(ds)
  }

  /** schedule sets the fallback time and a timer that calls `fire` then, unless the time was set again or cleared meanwhile. */
  schedule(ds: string, at: number, fire: () => void): void {
    this.times.set(ds, at)
    this.timers.get(ds)?.cancel()
    this.timers.set(
      ds,
      this.clock.after(Math.max(0, at - this.clock.mono()), () => {
        this.timers.delete(ds)
        if (this.times.get(ds) === at) fire()
      }),
    )
  }

  /** clear drops the fallback time and cancels its timer. */
  clear(ds: string): void {
    this.times.delete(ds)
    this.timers.get(ds)?.cancel()
    this.timers.delete(ds)
  }
}
