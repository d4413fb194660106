// A Clock whose time moves only when a test (or a simulator) calls advance: timers fire in
// time order (ties in the order they were set), and after each one the pending promise
// callbacks run, so the async work a timer starts happens "at" its time. Tests only.

import type { Clock, Timer } from '../../agent/clock.js'

interface Scheduled {
  at: number
  seq: number
  fn: () => void
  /** Set for `every` timers: fired again this much later. */
  period?: number
  cancelled: boolean
}

/** settle lets every queued promise callback run (they all run before the next macrotask). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** VirtualClock is a Clock on virtual time; mono starts at 0, wall at `wallStart`. */
export class VirtualClock implements Clock {
  private now = 0
  private seq = 0
  private timers: Scheduled[] = []
  private readonly wallStart: number

  /** wallStart is the wall time (ms since the epoch) at virtual time 0. */
  constructor(wallStart = Date.UTC(2026, 0, 1)) {
    this.wallStart = wallStart
  }

  wall(): number {
    return this.wallStart + this.now
  }

  mono(): number {
    return this.now
  }

  after(ms: number, fn: () => void): Timer {
    return this.schedule(ms, fn, undefined)
  }

  every(ms: number, fn: () => void): Timer {
    // A zero period would fire forever at one instant.
    return this.schedule(ms, fn, Math.max(1, ms))
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve))
  }

  /** advance moves time forward by `ms`, firing every timer due on the way and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms
    await settle()
    for (;;) {
      const next = this.next()
      if (next === undefined || next.at > end) break
      this.now = next.at
      if (next.period === undefined) next.cancelled = true
      else {
        next.at += next.period
        next.seq = this.seq++
      }
      next.fn()
      await settle()
    }
    this.now = end
    this.timers = this.timers.filter((t) => !t.cancelled)
  }

  private schedule(ms: number, fn: () => void, period: number | undefined): Timer {
    const t: Scheduled = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, period, cancelled: false }
    this.timers.push(t)
    return {
      cancel: () => {
        t.cancelled = true
      },
    }
  }

  /** next returns the live timer due first (ties: the one set first). */
  private next(): Scheduled | undefined {
    let best: Scheduled | undefined
    for (const t of this.timers) {
      if (t.cancelled) continue
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t
    }
    return best
  }
}
