// The agent's hybrid clock, shared by store and membership. Remote timestamps far ahead
// of our clock are still accepted as data, but do not drag our clock forward.

import { ClockDriftError, HybridClock, decodeTimestamp, type Timestamp } from '../core/hlc.js'

/** How far ahead of our wall clock a remote timestamp may pull our clock. */
export const MAX_CLOCK_OFFSET_MS = 60_000

export class AgentClock {
  private readonly hlc = new HybridClock(Date.now, MAX_CLOCK_OFFSET_MS)

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
