// Pod workers, as the kubelet has them: one worker per copy (a DaemonSet on this host) that
// performs that copy's steps strictly one after another, while the workers of different
// copies run side by side. So one daemon waiting out a 30 s grace period, or a Docker call
// that hangs, holds up only its own copy. Workers decide nothing: each pass of the
// reconciler hands every copy the steps core's planPass decided for it (dispatch), and the
// worker only performs them and says what it is doing.
//
// Superseding. A decision is made from an observation; a copy whose worker changed something
// since that observation began must not act on it. So:
//  1. a worker that is idle takes a new list of steps at once, unless the observation it came
//     from began before the worker's last change ended (it is stale: dropped; the change
//     asked for a fresh pass, which decides again);
//  2. a list handed to a worker that is busy supersedes what is left of the worker's current
//     list: the step under way finishes (a stop is not cut short), the rest is dropped, and a
//     fresh pass decides again; so a copy being stopped is never started by a stale plan;
//  3. a step that fails drops the rest of its list (no new copy after an old one's failed
//     stop), and the failure is backed off by the planner.
// Exactly one copy per DaemonSet per host follows: only a copy's own worker creates or
// removes its containers, one step at a time, on decisions no older than its last change.

import type { Logger } from 'pino'
import type { Action } from '../../core/pass.js'
import type { Clock } from '../clock.js'
import type { Doing, StepOutcome } from './actor.js'

/**
 * Perform carries out one step of a copy (the actor's perform). It is called for one copy
 * at a time (never twice at once for the same copy) and concurrently for different copies;
 * it reports its own failures (a rejection is a bug: logged, and the copy looked at again).
 */
export type Perform = (copy: string, a: Action, doing: Doing) => Promise<StepOutcome>

/** Activity is what a busy worker is doing, since when (wall ms). */
export interface Activity {
  doing: string
  since: number
}

export interface WorkersOptions {
  perform: Perform
  clock: Clock
  log: Logger
  /** settled asks for a fresh pass: a worker changed something, or dropped steps a newer decision superseded. */
  settled: () => void
}

interface Worker {
  /** A list is under way. */
  busy: boolean
  /** A newer decision came while busy: the rest of the current list is dropped. */
  superseded: boolean
  activity: Activity | undefined
  /** Observations numbered up to this one began before this worker's last change ended: stale for it. */
  staleThrough: number
}

export class Workers {
  private readonly opts: WorkersOptions
  private readonly workers = new Map<string, Worker>()
  /** The number of the latest observation begun (see observing). */
  private observation = 0
  private stopped = false

  constructor(opts: WorkersOptions) {
    this.opts = opts
  }

  /** observing numbers an observation that is beginning; its decisions are dispatched under this number. */
  observing(): number {
    return ++this.observation
  }

  /**
   * dispatch hands copy `copy` (DaemonSet label form) the steps decided from observation
   * `seen`. An empty list is a decision too: it supersedes a busy worker's remaining steps.
   */
  dispatch(copy: string, seen: number, steps: readonly Action[]): void {
    if (this.stopped) return
    const w = this.workers.get(copy)
    if (w?.busy === true) {
      w.superseded = true
      return
    }
    if (w !== undefined && seen <= w.staleThrough) return
    if (steps.length === 0) return
    const worker = w ?? { busy: false, superseded: false, activity: undefined, staleThrough: 0 }
    this.workers.set(copy, worker)
    void this.run(copy, worker, steps)
  }

  /** busy says whether a copy's worker is performing steps now. */
  busy(copy: string): boolean {
    return this.workers.get(copy)?.busy === true
  }

  /** busyCopies lists the copies (label form) whose worker is performing steps now. */
  busyCopies(): string[] {
    return [...this.workers].filter(([, w]) => w.busy).map(([copy]) => copy)
  }

  /** activities returns what each busy worker is doing, by copy (label form). */
  activities(): Map<string, Activity> {
    const out = new Map<string, Activity>()
    for (const [copy, w] of this.workers) if (w.activity !== undefined) out.set(copy, w.activity)
    return out
  }

  /**
   * sweep forgets idle workers with nothing to remember: once decisions from observation
   * `seen` were dispatched, every later one is newer than their last change.
   */
  sweep(seen: number): void {
    for (const [copy, w] of this.workers) if (!w.busy && w.staleThrough < seen) this.workers.delete(copy)
  }

  /** stop lets the steps under way finish but starts no further step. */
  stop(): void {
    this.stopped = true
  }

  private async run(copy: string, w: Worker, steps: readonly Action[]): Promise<void> {
    w.busy = true
    w.superseded = false
    let changed = false
    let cut = false
    try {
      for (const step of steps) {
        if (this.stopped) break
        if (w.superseded) {
          cut = true
          break
        }
        const out = await this.opts.perform(copy, step, (doing) => {
          if (w.activity?.doing !== doing) w.activity = { doing, since: this.opts.clock.wall() }
        })
        if (out.changed) {
          changed = true
          w.staleThrough = this.observation
        }
        if (out.halt) break
      }
    } catch (err) {
      // perform reports its failures itself; anything else is a bug, logged, and the copy is looked at again.
      this.opts.log.error({ err, daemonset: copy }, 'worker step failed')
      changed = true
      w.staleThrough = this.observation
    } finally {
      w.busy = false
      w.activity = undefined
      if (!this.stopped && (changed || cut || w.superseded)) this.opts.settled()
    }
  }
}
