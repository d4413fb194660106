// Signed envelopes: every value in the replicated store (and every tombstone) is signed
// by its author's ed25519 key over a canonical encoding. No I/O here.

import { sign, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from './canonical.js'
import { MalformedEnvelopeError, SignatureError } from './errors.js'
import { decodeTimestamp, encodeTimestamp, type Timestamp } from './hlc.js'
import { KEY_ID, keyId, publicKeyFromId } from './keys.js'

/** Envelope is one signed write: a put of `value` under `key`, or a delete (tombstone). */
export interface Envelope {
  key: string
  op: 'put' | 'delete'
  /** The value of a put; for a delete, optional details of how to delete (e.g. `{ cascade: 'orphan' }`). */
  value?: unknown
  /** Hybrid timestamp, encoded (see encodeTimestamp). */
  hlc: string
  /** Author's key id (base64url raw ed25519 public key). */
  author: string
  /** base64url ed25519 signature over signingBytes(envelope). */
  sig: string
}

/** Maximum key length; keys are short paths such as `ds/NAMESPACE/NAME`. */
export const MAX_KEY_LENGTH = 512

/** envelopeSchema checks the shape of an envelope received from outside (gossip, API, disk). */
export const envelopeSchema = z
  .object({
    key: z.string().min(1).max(MAX_KEY_LENGTH),
    op: z.enum(['put', 'delete']),
    value: z.unknown().optional(),
    hlc: z.string().regex(/^[0-9]{15}\.[0-9]{6}$/),
    author: z.string().regex(KEY_ID),
    sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  })
  .strict()
  .refine((e) => e.op === 'delete' || e.value !== undefined, { message: 'a put carries a value' })

const DOMAIN = 'daemonmesh/envelope/v1\n'
/** The domain of an envelope bound to a cluster id: the id is part of what is signed, so a write for one cluster fails verification in another. The envelope's fields are the same (agents of 0.1.0 take no other). */
const DOMAIN_V2 = 'daemonmesh/envelope/v2\n'

/** CLUSTER_ID is a cluster id's form: 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit. */
export const CLUSTER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/

/** checkClusterId says why `id` is not a cluster id, or undefined. */
export function checkClusterId(id: string): string | undefined {
  return CLUSTER_ID.test(id) ? undefined : `Invalid value: "${id}": 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit`
}

/**
 * ClusterBinding is how a verifier treats cluster ids: envelopes bound to `id` are taken,
 * those bound to another id never; unbound (v1) ones are taken unless `requireBound`.
 */
export interface ClusterBinding {
  id: string
  requireBound: boolean
}

/** signingBytes returns the exact bytes an envelope's signature covers: v1, or v2 bound to `clusterId`. */
export function signingBytes(e: Omit<Envelope, 'sig'>, clusterId?: string): Buffer {
  const prefix = clusterId === undefined ? DOMAIN : `${DOMAIN_V2}${clusterId}\n`
  return Buffer.from(prefix + canonicalJson({ key: e.key, op: e.op, value: e.value, hlc: e.hlc, author: e.author }))
}

/**
 * signEnvelope makes a signed put (value defined) or delete (value undefined); a delete
 * may carry `deleteDetails` (how to delete, such as the cascade mode). With `clusterId` the
 * signature binds it (v2); without, it is unbound (v1).
 */
export function signEnvelope(key: string, value: unknown, ts: Timestamp, privateKey: KeyObject, deleteDetails?: Record<string, unknown>, clusterId?: string): Envelope {
  const unsigned: Omit<Envelope, 'sig'> =
    value === undefined
      ? { key, op: 'delete', ...(deleteDetails === undefined ? {} : { value: JSON.parse(canonicalJson(deleteDetails)) as unknown }), hlc: encodeTimestamp(ts), author: keyId(privateKey) }
      : { key, op: 'put', value: JSON.parse(canonicalJson(value)) as unknown, hlc: encodeTimestamp(ts), author: keyId(privateKey) }
  const sig = sign(null, signingBytes(unsigned, clusterId), privateKey).toString('base64url')
  return { ...unsigned, sig }
}

/**
 * checkEnvelope verifies shape and signature of an envelope from outside and returns it
 * typed; throws MalformedEnvelopeError (shape) or SignatureError (signature). Authorisation (is the author
 * trusted for this key) is the caller's. Without `cluster` the signature must be v1
 * (unbound); with it, v2 bound to its id, or v1 unless `requireBound`.
 */
export function checkEnvelope(input: unknown, cluster?: ClusterBinding): Envelope {
  const res = envelopeSchema.safeParse(input)
  if (!res.success) {
    const first = res.error.issues[0]
    throw new MalformedEnvelopeError(`malformed envelope: ${first === undefined ? 'invalid' : `${first.path.join('.') || 'envelope'}: ${first.message}`}`)
  }
  const env = res.data as Envelope
  if (decodeTimestamp(env.hlc) === undefined) throw new MalformedEnvelopeError('malformed envelope: hlc')
  const valid = (clusterId?: string): boolean => {
    try {
      return verify(null, signingBytes(env, clusterId), publicKeyFromId(env.author), Buffer.from(env.sig, 'base64url'))
    } catch {
      return false
    }
  }
  if (cluster === undefined) {
    if (!valid()) throw new SignatureError(`bad signature on ${env.key}`)
    return env
  }
  if (valid(cluster.id)) return env
  if (!valid()) throw new SignatureError(`bad signature on ${env.key} (or signed for another cluster than ${cluster.id})`)
  if (cluster.requireBound) throw new SignatureError(`envelope ${env.key} is not bound to a cluster id (this agent requires ${cluster.id}): re-sign it (daemonmesh resign)`)
  return env
}
