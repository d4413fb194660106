// The failure detector's messages, as they travel: probe frames on probe links
// (PROBE_LINK_PROTOCOL, numbered) and on PROBE_PROTOCOL channels (one exchange each, for
// older agents) (ping, ack, ping-req, nack) and the suspicion notices it publishes on the nodes topic
// (suspect, failed). All small JSON, validated with zod and bounded, because they arrive
// from peers. Node records themselves are signed envelopes (records.ts).

import { z } from 'zod'
import { KEY_ID } from '../../core/keys.js'

/** Largest probe frame: the biggest (a ping-req) is under 200 bytes. */
export const MAX_PROBE_FRAME_BYTES = 512

const incarnation = z.number().int().min(0).max(2 ** 31)

/**
 * View is what the sender believes of the receiver (status and incarnation), carried by
 * ping and ack, so that a suspected member hears of it from the prober itself and refutes
 * even when gossip did not reach it (a healed partition).
 */
const viewSchema = z.object({ status: z.enum(['alive', 'suspect', 'failed']), incarnation }).strict()
export type View = z.infer<typeof viewSchema>

/**
 * Self is what the responder says of itself in an ack: its incarnation and start time. The
 * channel authenticates the responder's peer id, so a prober may take it as alive news
 * (a refutation that gossip has not brought yet).
 */
const selfSchema = z.object({ incarnation, startedAt: z.number().int().min(0) }).strict()
export type Self = z.infer<typeof selfSchema>

/**
 * An ack's `d`: the responder's state fingerprint (its store's and node records' digests,
 * shortened). A prober whose own differs asks for an anti-entropy exchange with it, so
 * drift is found by the probes already running, not by a periodic exchange per peer.
 */
const fingerprint = z.string().regex(/^[0-9a-f]{16}$/)

/** A frame's number on a probe link (PROBE_LINK_PROTOCOL): an answer carries its request's. Absent on the one-exchange protocol. */
const n = z.number().int().min(0).max(2 ** 31 - 1).optional()

/**
 * probeFrameSchema is one frame of the probe protocol:
 *  - ping: are you there? (the sender's view of the receiver, when it has one)
 *  - ack: I am, at this incarnation (and the receiver's view of the pinger, when it has one, and its state fingerprint)
 *  - ping-req: probe member `target` for me and tell me (an indirect probe)
 *  - nack: I asked `target` and it did not answer (Lifeguard: tells the requester its helpers are healthy)
 */
export const probeFrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ping'), n, you: viewSchema.optional() }).strict(),
  z.object({ t: z.literal('ack'), n, me: selfSchema.optional(), you: viewSchema.optional(), d: fingerprint.optional() }).strict(),
  z.object({ t: z.literal('ping-req'), n, target: z.string().regex(KEY_ID) }).strict(),
  z.object({ t: z.literal('nack'), n }).strict(),
])
export type ProbeFrame = z.infer<typeof probeFrameSchema>

/**
 * noticeSchema is a suspicion notice on the nodes topic: the publisher (authenticated by
 * gossipsub's strict signing) suspects member `keyId` at `incarnation`, or declares it
 * failed. Only notices from members count.
 */
export const noticeSchema = z.object({ t: z.enum(['suspect', 'failed']), keyId: z.string().regex(KEY_ID), incarnation }).strict()
export type Notice = z.infer<typeof noticeSchema>

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** encodeJson is JSON as bytes. */
export const encodeJson = (v: unknown): Uint8Array => encoder.encode(JSON.stringify(v))

/** decodeFrame parses a probe frame; throws on anything else. */
export function decodeFrame(b: Uint8Array): ProbeFrame {
  return probeFrameSchema.parse(JSON.parse(decoder.decode(b)))
}

/** isNotice tells a notice from a record envelope on the nodes topic (records carry no `t`). */
export function isNotice(input: unknown): boolean {
  return typeof input === 'object' && input !== null && 't' in input
}
