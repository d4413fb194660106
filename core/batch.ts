// Envelopes written together: a DaemonSet and its revision history, as one operator write
// (`POST /v1/envelopes/batch`) and one gossip message on the store topic (`{"batch": […]}`),
// so an apply costs every agent one message's carriage, not two, and the history does not
// trail the DaemonSet by a round trip. A batch is all or nothing where it is written: every
// envelope is verified before any is kept (core/crdt.ts mergeAll).

import { MAX_ENVELOPE_BYTES } from './bounds.js'
import { since020 } from './version.js'

/** MAX_BATCH_ENVELOPES bounds the envelopes of one batch (a write's DaemonSet and history are two). */
export const MAX_BATCH_ENVELOPES = 8

/** MAX_BATCH_BYTES bounds a batch's encoded size: one envelope's bound, so a batch fits where one envelope does (a gossip message, a request body). */
export const MAX_BATCH_BYTES = MAX_ENVELOPE_BYTES

/** EnvelopeBatch is the store topic's message for several envelopes. */
export interface EnvelopeBatch {
  batch: unknown[]
}

/**
 * batchOf returns the envelopes of a store topic message that is a batch (an object whose only
 * field is `batch`, a list of 2 to MAX_BATCH_ENVELOPES), undefined when it is not one, or an
 * error when it is a batch out of bounds.
 */
export function batchOf(message: unknown): unknown[] | Error | undefined {
  if (typeof message !== 'object' || message === null || Array.isArray(message) || !('batch' in message)) return undefined
  const keys = Object.keys(message)
  const batch = (message as EnvelopeBatch).batch
  if (keys.length !== 1 || !Array.isArray(batch)) return new Error('a batch is an object with one field, batch, a list of envelopes')
  if (batch.length < 2 || batch.length > MAX_BATCH_ENVELOPES) return new Error(`a batch holds 2 to ${MAX_BATCH_ENVELOPES} envelopes, not ${batch.length}`)
  return batch
}

/**
 * knowsBatches says whether an agent of `version` (its node record's) reads a batch on the
 * store topic. Agents of 0.1.x refuse one as a malformed envelope, and gossipsub would
 * penalise the peer that sent it: while any member runs 0.1.x, envelopes go one by one.
 */
export function knowsBatches(version: string): boolean {
  return since020(version)
}
