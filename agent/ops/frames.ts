// The frames of OPS_PROTOCOL and of the API's streamed answers, and the bounds of an
// operations stream. A request travels signed, as the CLI made it; what comes back is output,
// keep-alives, an exit code or an error, then the end. Every frame from a peer is checked.

import { z } from 'zod'

/** Bounds of one operations stream; each says what it bounds and what it trades. */
export const OPS_LIMITS = {
  /** Largest frame either way: a 32 KiB output chunk in base64 plus framing, or a request (its command is at most 64 KiB). */
  maxFrameBytes: 128 * 1024,
  /** Opening a stream to the target, dialling included. */
  openTimeoutMs: 10_000,
  /** A stream without a frame for this long is dead: a follow or an exec sends keep-alives every pingMs, well within it. */
  idleMs: 60_000,
  pingMs: 15_000,
  /** Logs not followed end after this long, and after maxLogBytes (a line says so). */
  logsTimeoutMs: 60_000,
  maxLogBytes: 32 * 1024 * 1024,
  /** An exec ends (as failed) after this long: non-interactive commands are meant to be short. */
  execTimeoutMs: 10 * 60_000,
  /** Output each stream may send per second; a faster daemon is read more slowly (Docker buffers). */
  maxBytesPerSecond: 4 * 1024 * 1024,
  /** Bytes of stdin an exec may be given. */
  maxStdinBytes: 1024 * 1024,
  /** Hosts one request reads at once when not following (the rest wait their turn), and hosts one follow may read. */
  hostsAtOnce: 16,
  maxFollowHosts: 64,
  /** Streams this agent serves at once per connection, and operations it runs for API clients at once. */
  maxStreams: 16,
  maxApiOperations: 32,
} as const

/** ServerFrame is what a target sends back. */
export const serverFrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('out'), s: z.enum(['stdout', 'stderr']), d: z.string().max(64 * 1024) }).strict(),
  z.object({ t: z.literal('exit'), code: z.number().int().min(-1).max(255) }).strict(),
  z.object({ t: z.literal('error'), reason: z.string().max(32).optional(), message: z.string().max(1024) }).strict(),
  z.object({ t: z.literal('ping') }).strict(),
  z.object({ t: z.literal('end') }).strict(),
])
export type ServerFrame = z.infer<typeof serverFrameSchema>

/** ClientFrame follows the request: stdin bytes, then its end. */
export const clientFrameSchema = z.discriminatedUnion('t', [z.object({ t: z.literal('in'), d: z.string().max(64 * 1024) }).strict(), z.object({ t: z.literal('eof') }).strict()])
export type ClientFrame = z.infer<typeof clientFrameSchema>

/** NodeFrame is a ServerFrame of one host, as the API streams it (one JSON object a line). */
export type NodeFrame = ServerFrame & { node: string }

export const encodeFrame = (f: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(f))

/** decodeFrame parses a frame with `schema`; throws naming what is wrong. */
export function decodeFrame<T>(bytes: Uint8Array, schema: z.ZodType<T>): T {
  let data: unknown
  try {
    data = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new Error('frame is not JSON')
  }
  const r = schema.safeParse(data)
  if (!r.success) throw new Error(`bad frame: ${r.error.issues[0]?.message ?? 'invalid'}`)
  return r.data
}
