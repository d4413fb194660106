// Hybrid logical clock (Kulkarni et al.): timestamps that follow physical time, never go
// backwards, and order every send before its receipt. The clock source is injected, so
// this file does no I/O and tests can drive time.

/** Timestamp is a point of hybrid time: milliseconds since the epoch plus a logical counter. */
export interface Timestamp {
  wall: number
  logical: number
}

/** ClockDriftError is thrown when a remote timestamp is further ahead than the allowed offset. */
export class ClockDriftError extends Error {
  override readonly name = 'ClockDriftError'
}

const ENCODED = /^([0-9]{15})\.([0-9]{6})$/
const MAX_LOGICAL = 999_999

/** compareTimestamps orders timestamps: negative when a < b, 0 when equal, positive when a > b. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical
}

/** encodeTimestamp renders a timestamp as fixed-width text that sorts like the timestamp. */
export function encodeTimestamp(t: Timestamp): string {
  return `${String(t.wall).padStart(15, '0')}.${String(t.logical).padStart(6, '0')}`
}

/** decodeTimestamp reads encodeTimestamp's text; returns undefined when it is not one. */
export function decodeTimestamp(text: string): Timestamp | undefined {
  const m = ENCODED.exec(text)
  return m === null ? undefined : { wall: Number(m[1]), logical: Number(m[2]) }
}

/** HybridClock issues timestamps. Not safe to share between processes; one per agent. */
export class HybridClock {
  private last: Timestamp = { wall: 0, logical: 0 }
  private readonly physical: () => number
  private readonly maxOffsetMs: number

  /**
   * physical returns the wall clock in milliseconds (default Date.now); maxOffsetMs bounds
   * how far ahead of it a remote timestamp may be (default unbounded).
   */
  constructor(physical: () => number = Date.now, maxOffsetMs = Number.POSITIVE_INFINITY) {
    this.physical = physical
    this.maxOffsetMs = maxOffsetMs
  }

  /** now returns a timestamp greater than every one this clock has issued or seen. */
  now(): Timestamp {
    const pt = Math.floor(this.physical())
    this.last = pt > this.last.wall ? { wall: pt, logical: 0 } : this.bump(this.last.wall, this.last.logical + 1)
    return { ...this.last }
  }

  /**
   * update merges a timestamp received from a peer and returns a timestamp greater than
   * both it and everything issued before. Throws ClockDriftError when `remote` is more
   * than maxOffsetMs ahead of the physical clock (the clock is left unchanged).
   */
  update(remote: Timestamp): Timestamp {
    const pt = Math.floor(this.physical())
    if (remote.wall - pt > this.maxOffsetMs) {
      throw new ClockDriftError(`remote clock is ${remote.wall - pt} ms ahead (max ${this.maxOffsetMs} ms)`)
    }
    const wall = Math.max(pt, this.last.wall, remote.wall)
    let logical: number
    if (wall === this.last.wall && wall === remote.wall) logical = Math.max(this.last.logical, remote.logical) + 1
    else if (wall === this.last.wall) logical = this.last.logical + 1
    else if (wall === remote.wall) logical = remote.logical + 1
    else logical = 0
    this.last = this.bump(wall, logical)
    return { ...this.last }
  }

  /** peek returns the last timestamp issued or seen, without advancing. */
  peek(): Timestamp {
    return { ...this.last }
  }

  private bump(wall: number, logical: number): Timestamp {
    // The counter has a fixed width; past it, borrow a millisecond from the future.
    return logical > MAX_LOGICAL ? { wall: wall + 1, logical: 0 } : { wall, logical }
  }
}
