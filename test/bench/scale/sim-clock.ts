// The simulator's time: a Clock on virtual time whose timers sit in a binary heap, so that
// tens of thousands of agents' timers and every message in flight (each one a timer) cost
// O(log n) to schedule and to fire. Timers fire in time order (ties in the order they were
// set); after each instant's timers the pending promise callbacks run, so the async work a
// timer starts happens "at" its time. test/helpers/virtual-clock.ts has the same semantics
// with a linear scan, fine for a unit test's few timers. Simulator only.

import type { Clock, Timer } from '../../../agent/clock.js'

interface Scheduled {
  at: number
  seq: number
  fn: () => void
  /** Set for `every` timers: fired again this much later. */
  period: number | undefined
  cancelled: boolean
  /** In the heap now (a one-shot timer leaves it when it fires). */
  queued: boolean
}

/** settle lets every queued promise callback run (they all run before the next macrotask). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const before = (a: Scheduled, b: Scheduled): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** SimClock is a Clock on virtual time; mono starts at 0, wall at `wallStart`. */
export class SimClock implements Clock {
  private now = 0
  private seq = 0
  private readonly heap: Scheduled[] = []
  /** Cancelled timers still in the heap: when they are most of it, it is rebuilt without them. */
  private cancelledQueued = 0
  private readonly wallStart: number
  /** Timers fired so far (a measure of the simulation's work). */
  fired = 0

  constructor(wallStart = Date.UTC(2026, 0, 1)) {
    this.wallStart = wallStart
  }

  /** wall is whole milliseconds, as Date.now (messages carry it; records must hold integers). */
  wall(): number {
    return Math.floor(this.wallStart + this.now)
  }

  mono(): number {
    return this.now
  }

  after(ms: number, fn: () => void): Timer {
    return this.schedule(ms, fn, undefined)
  }

  every(ms: number, fn: () => void): Timer {
    return this.schedule(ms, fn, Math.max(1, ms))
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve))
  }

  /** pending returns the number of timers scheduled (cancelled ones included until they surface). */
  get pending(): number {
    return this.heap.length
  }

  /** advance moves time forward by `ms`, firing every timer due on the way; after each instant's timers, pending promise callbacks run. */
  async advance(ms: number): Promise<void> {
    await this.runUntil(this.now + ms)
  }

  /** runUntil fires every timer due up to `end` (virtual ms) and leaves the clock at `end`. */
  async runUntil(end: number): Promise<void> {
    await settle()
    for (;;) {
      const next = this.heap[0]
      if (next === undefined || next.at > end) break
      const at = next.at
      this.now = at
      // Every timer of this instant, then one settle: their promise callbacks run "at" it.
      while (this.heap[0] !== undefined && this.heap[0].at === at) {
        const t = this.pop()
        t.queued = false
        if (t.cancelled) {
          this.cancelledQueued--
          continue
        }
        if (t.period !== undefined) {
          t.at += t.period
          t.seq = this.seq++
          this.push(t)
        }
        this.fired++
        t.fn()
      }
      await settle()
    }
    this.now = Math.max(this.now, end)
  }

  private schedule(ms: number, fn: () => void, period: number | undefined): Timer {
    const t: Scheduled = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, period, cancelled: false, queued: false }
    this.push(t)
    return {
      cancel: () => {
        if (t.cancelled) return
        t.cancelled = true
        if (!t.queued) return
        this.cancelledQueued++
        // Channels re-arm their idle deadline at every frame: without this, the cancelled
        // deadlines would make most of the heap (and its depth).
        if (this.cancelledQueued > 1024 && this.cancelledQueued * 2 > this.heap.length) this.compact()
      },
    }
  }

  /** compact rebuilds the heap without its cancelled timers (the order of the rest is kept: it is by at, then seq). */
  private compact(): void {
    const live = this.heap.filter((t) => {
      if (t.cancelled) t.queued = false
      return !t.cancelled
    })
    this.heap.length = 0
    this.cancelledQueued = 0
    for (const t of live) this.push(t)
  }

  private push(t: Scheduled): void {
    t.queued = true
    const h = this.heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(t, h[p] as Scheduled)) break
      h[i] = h[p] as Scheduled
      i = p
    }
    h[i] = t
  }

  private pop(): Scheduled {
    const h = this.heap
    const top = h[0] as Scheduled
    const last = h.pop() as Scheduled
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && before(h[r] as Scheduled, h[l] as Scheduled) ? r : l
        if (!before(h[c] as Scheduled, last)) break
        h[i] = h[c] as Scheduled
        i = c
      }
      h[i] = last
    }
    return top
  }
}
