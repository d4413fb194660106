// The agent's time, as one seam: wall time (ms since the epoch; may be skewed, used for
// timestamps people read and for the hybrid logical clock), monotonic time (durations:
// TTLs, minReadySeconds, failure detection), and timers. Production uses systemClock; a
// simulator or a test hands components a clock of its own. Nothing else in agent/ reads
// Date.now, performance.now or setTimeout for protocol time.

import { performance } from 'node:perf_hooks'
import { ClockDriftError, HybridClock, decodeTimestamp, type Timestamp } from '../core/hlc.js'

/** Timer is a scheduled callback; cancel is idempotent. */
export interface Timer {
  cancel(): void
}

/** Clock is what components read time from and schedule work with. */
export interface Clock {
  /** wall returns ms since the epoch on this host's (possibly skewed) clock. */
  wall(): number
  /** mono returns monotonic ms (any origin): differences are durations. */
  mono(): number
  /** after runs fn once, `ms` from now. Timers never keep the process alive. */
  after(ms: number, fn: () => void): Timer
  /** every runs fn each `ms` until cancelled. */
  every(ms: number, fn: () => void): Timer
  /** sleep resolves after `ms`. */
  sleep(ms: number): Promise<void>
}

/** systemClock is the production clock: the kernel's wall and monotonic clocks, Node's timers. */
export const systemClock: Clock = {
  wall: () => Date.now(),
  mono: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms)
    t.unref()
    return { cancel: () => clearTimeout(t) }
  },
  every(ms, fn) {
    const t = setInterval(fn, ms)
    t.unref()
    return { cancel: () => clearInterval(t) }
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

/** How far ahead of our wall clock a remote timestamp may pull our hybrid clock. */
export const MAX_CLOCK_OFFSET_MS = 60_000

/**
 * AgentClock is the hybrid logical clock shared by store and membership, on a Clock's
 * wall time. Remote timestamps far ahead of ours are still accepted as data, but do not
 * drag our clock forward.
 */
export class AgentClock {
  private readonly hlc: HybridClock
  private readonly clock: Clock

  constructor(clock: Clock) {
    this.clock = clock
    this.hlc = new HybridClock(() => clock.wall(), MAX_CLOCK_OFFSET_MS)
  }

  /** wall is the physical wall clock (ms): what timestamps from outside are bounded against. */
  wall(): number {
    return this.clock.wall()
  }

  /** mono is the Clock's monotonic time (ms): for durations, such as log throttles. */
  mono(): number {
    return this.clock.mono()
  }

  now(): Timestamp {
    return this.hlc.now()
  }

  /** observe folds an encoded remote timestamp into the clock; returns false when it was too far ahead. */
  observe(encoded: string): boolean {
    const ts = decodeTimestamp(encoded)
    if (ts === undefined) return false
    try {
      this.hlc.update(ts)
      return true
    } catch (err) {
      if (err instanceof ClockDriftError) return false
      throw err
    }
  }
}
