// The probe link's frames (PROBE_LINK_PROTOCOL): a ping or ping-req numbered (`n`), its
// ack or nack carrying the same number, so a ping costs two frames on one long-lived
// channel instead of a stream opened and closed. The link itself (numbering, answer
// matching, deadlines, failure) is agent/link.ts's, shared with the lease links.

import type { LinkCodec } from '../link.js'
import { decodeFrame, encodeJson, type ProbeFrame } from './messages.js'

/** A frame this side sends, without its number. */
export type Request = Extract<ProbeFrame, { t: 'ping' | 'ping-req' }>
/** An answer to one. */
export type Answer = Extract<ProbeFrame, { t: 'ack' | 'nack' }>

/** probeLinkCodec numbers probe requests and reads acks and nacks; any other frame, or one without its number, fails the link. */
export const probeLinkCodec: LinkCodec<Request, Answer> = {
  encode: (req, n) => encodeJson({ ...req, n }),
  decode: (raw) => {
    const frame = decodeFrame(raw)
    if ((frame.t !== 'ack' && frame.t !== 'nack') || frame.n === undefined) throw new Error(`unexpected ${frame.t} frame on a probe link`)
    return { n: frame.n, answer: frame }
  },
}
