// When this node's record goes out after it changed: at once, or, when the last publication
// is younger than the spacing window, once at its end with every change made meanwhile; a
// change of notes only (what people read about the copies: why one waits, its workers, its
// events) a random part of notesSpreadMs later, or sooner with any other change
// (docs/membership.md). Pacing only: what the record says, and publishing it, are the
// membership's.

import type { Random } from '../../core/swim.js'
import type { Clock, Timer } from '../clock.js'

export interface RecordPacerOptions {
  clock: Clock
  random: Random
  /** membership.recordSpacingMs */
  spacingMs: number
  /** membership.notesSpreadMs */
  notesSpreadMs: number
  /** publish signs and sends the record now; it calls published(). */
  publish: () => void
}

/** RecordPacer holds the record's next publication. */
export class RecordPacer {
  private readonly opts: RecordPacerOptions
  /** Monotonic ms of the last publication. */
  private last = Number.NEGATIVE_INFINITY
  /** The publication held back, and when it is due (monotonic ms). */
  private held: Timer | undefined
  private heldDue = Number.POSITIVE_INFINITY
  private stopped = false

  constructor(opts: RecordPacerOptions) {
    this.opts = opts
  }

  /** changed asks for the record to go out: at once, or held (`notes`: the change is one of notes only). */
  changed(notes = false): void {
    if (this.stopped) return
    const now = this.opts.clock.mono()
    const due = Math.max(this.last + this.opts.spacingMs, notes ? now + this.opts.random() * this.opts.notesSpreadMs : now)
    if (this.held !== undefined) {
      if (this.heldDue <= due) return
      this.cancel()
    }
    if (due <= now) {
      this.opts.publish()
      return
    }
    this.heldDue = due
    this.held = this.opts.clock.after(due - now, () => {
      this.held = undefined
      if (!this.stopped) this.opts.publish()
    })
  }

  /** published notes a publication now: it carries every change so far, so one held back would repeat it. */
  published(): void {
    this.last = this.opts.clock.mono()
    this.cancel()
  }

  /** stop drops what is held; nothing goes out from now on. */
  stop(): void {
    this.stopped = true
    this.cancel()
  }

  private cancel(): void {
    this.held?.cancel()
    this.held = undefined
  }
}
