// Bounds every agent applies to what it takes from outside (API, gossip, anti-entropy),
// before anything is merged: an envelope's encoded size, and how far ahead of this agent's
// clock a timestamp may be. Pure: the caller passes its wall clock. No I/O here.

import type { Envelope } from './envelope.js'
import { decodeTimestamp } from './hlc.js'

/**
 * MAX_ENVELOPE_BYTES bounds one encoded envelope: it must fit one gossip message (the
 * network's MAX_MESSAGE_BYTES is this number), or it could be stored here and never spread.
 * A DaemonSet envelope is a few KiB.
 */
export const MAX_ENVELOPE_BYTES = 256 * 1024

/** MAX_CLOCK_AHEAD_MS is how far ahead of this agent's wall clock a timestamp may be (envelope HLCs, record times): 60 s. */
export const MAX_CLOCK_AHEAD_MS = 60_000

/**
 * MAX_WALL_MS is the largest wall time (ms since 1970) any record or request may carry:
 * 2^42 ms, in the year 2109. It keeps every stored time a valid Date, whatever the clock.
 */
export const MAX_WALL_MS = 2 ** 42

/**
 * checkEnvelopeBounds says why an envelope from outside may not be merged, or returns
 * undefined. Refused when:
 * 1. it encodes to more than MAX_ENVELOPE_BYTES;
 * 2. its HLC's wall time is more than MAX_CLOCK_AHEAD_MS ahead of `nowMs` (it could never
 *    be superseded by a write made now: an operator's delete would lose to it).
 * A malformed input passes here; the envelope check that follows names its fault.
 */
export function checkEnvelopeBounds(input: unknown, nowMs: number): string | undefined {
  let size: number
  try {
    size = Buffer.byteLength(JSON.stringify(input) ?? '')
  } catch {
    return 'envelope cannot be encoded'
  }
  if (size > MAX_ENVELOPE_BYTES) return `envelope of ${size} bytes exceeds ${MAX_ENVELOPE_BYTES} bytes`
  const hlc = (input as Partial<Envelope> | null)?.hlc
  const ts = typeof hlc === 'string' ? decodeTimestamp(hlc) : undefined
  if (ts !== undefined && ts.wall > nowMs + MAX_CLOCK_AHEAD_MS) return `hlc ${hlc} is more than ${MAX_CLOCK_AHEAD_MS / 1000} s ahead of this agent's clock`
  return undefined
}

/** checkNotAhead says which of `times` (field path -> wall ms) is more than MAX_CLOCK_AHEAD_MS ahead of `nowMs`, or undefined. */
export function checkNotAhead(times: Iterable<[string, number | undefined]>, nowMs: number): string | undefined {
  for (const [path, t] of times) if (t !== undefined && t > nowMs + MAX_CLOCK_AHEAD_MS) return `${path}: ${t} is more than ${MAX_CLOCK_AHEAD_MS / 1000} s ahead of this agent's clock`
  return undefined
}
