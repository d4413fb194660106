// Events: what happened to each copy on a host (Pulled, Created, Started, Killing,
// Unhealthy, BackOff, Evicted, PolicyDenied, …), as Kubernetes' events, kept per host as a
// bounded, aggregated history (a repeat of the same reason and message counts up instead of
// adding a line) and carried in the host's node record: only the most recent ones, and a
// repeat is republished at most every `refreshMs`, so a probe failing every second does not
// make a record every second, and a host where nothing happens sends nothing. Pure: the
// caller gives the times.

import { z } from 'zod'

/** The most recent events a node record carries. */
export const MAX_RECORD_EVENTS = 20

/** PodEvent is one aggregated event of one copy, as a node record carries it (validated at the border). */
export const podEventSchema = z
  .object({
    /** The DaemonSet, key form (`NS/NAME`). */
    ds: z.string().min(1).max(317),
    type: z.enum(['Normal', 'Warning']),
    reason: z.string().min(1).max(64),
    message: z.string().max(300),
    count: z.number().int().min(1).max(1e9),
    /** Wall ms of the first and the last occurrence. */
    first: z.number().int().min(0),
    last: z.number().int().min(0),
  })
  .strict()

export type PodEvent = z.infer<typeof podEventSchema>

/** NewEvent is one occurrence, before aggregation. */
export interface NewEvent {
  ds: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

const same = (a: PodEvent, e: NewEvent): boolean => a.ds === e.ds && a.reason === e.reason && a.message === e.message

const keyOf = (e: NewEvent): string => `${e.ds}\u0000${e.reason}\u0000${e.message}`

/**
 * EventHistory keeps a host's events, newest last, at most `max`; `published` is the list the
 * node record carries: the newest MAX_RECORD_EVENTS, where an event that only counted up
 * since it was last published shows its new count once `refreshMs` passed.
 */
export class EventHistory {
  private events: PodEvent[] = []
  /** What the record carries of each event, and since when (wall ms). */
  private readonly shown = new Map<string, { ev: PodEvent; at: number }>()
  constructor(
    private readonly max = 256,
    private readonly refreshMs = 10_000,
  ) {}

  /** add records one occurrence at wall time `now` (reason and message bounded). */
  add(e: NewEvent, now: number): void {
    const ev = { ...e, reason: e.reason.slice(0, 64), message: e.message.length > 300 ? `${e.message.slice(0, 297)}...` : e.message }
    const i = this.events.findIndex((x) => keyOf(x) === keyOf(ev))
    const old = i >= 0 ? this.events.splice(i, 1)[0] : undefined
    this.events.push(old === undefined ? { ...ev, count: 1, first: now, last: now } : { ...old, count: old.count + 1, last: now })
    while (this.events.length > this.max) {
      const gone = this.events.shift()
      if (gone !== undefined) this.shown.delete(keyOf(gone))
    }
  }

  /** all returns every event kept, oldest first. */
  all(): readonly PodEvent[] {
    return this.events
  }

  /**
   * published returns what the node record carries at wall time `now`: the newest events,
   * each as last shown unless it is new or its refresh is due; and in how many ms a held-back
   * refresh is due (undefined: none).
   */
  published(now: number): { events: PodEvent[]; refreshInMs?: number } {
    const out: PodEvent[] = []
    let due: number | undefined
    const newest = this.events.slice(-MAX_RECORD_EVENTS)
    for (const e of newest) {
      const k = keyOf(e)
      const s = this.shown.get(k)
      if (s === undefined || s.ev.count === e.count || now - s.at >= this.refreshMs) {
        if (s === undefined || s.ev.count !== e.count) this.shown.set(k, { ev: e, at: now })
        out.push(e)
        continue
      }
      out.push(s.ev)
      const left = this.refreshMs - (now - s.at)
      due = Math.min(due ?? left, left)
    }
    const keep = new Set(newest.map(keyOf))
    for (const k of this.shown.keys()) if (!keep.has(k)) this.shown.delete(k)
    // The record lists them oldest first, as they happened.
    out.sort((a, b) => a.last - b.last)
    return { events: out, ...(due === undefined ? {} : { refreshInMs: due }) }
  }
}
