// The replicated store's state: a last-writer-wins map of signed envelopes. Merge keeps,
// per key, the envelope with the greater (hlc, author) — signature bytes break the tie
// an equivocating author could create — so merge is commutative, associative and
// idempotent. Every envelope is verified and authorised before it can enter. No I/O here.

import { createHash } from 'node:crypto'
import { checkEnvelope, type Envelope } from './envelope.js'
import { SignatureError } from './errors.js'
import { compareTimestamps, decodeTimestamp } from './hlc.js'

/** Authorizer returns why `env`'s author may not write `env.key`, or undefined when it may. */
export type Authorizer = (env: Envelope) => string | undefined

/** trustedAuthors allows writes from the given key ids only. */
export function trustedAuthors(ids: Iterable<string>): Authorizer {
  const set = new Set(ids)
  return (env) => (set.has(env.author) ? undefined : `author ${env.author} is not a trusted operator key`)
}

/** compareEnvelopes orders two writes to the same key: by hlc, then author, then signature. */
export function compareEnvelopes(a: Envelope, b: Envelope): number {
  const ta = decodeTimestamp(a.hlc)
  const tb = decodeTimestamp(b.hlc)
  if (ta === undefined || tb === undefined) throw new SignatureError('malformed hlc')
  const byTime = compareTimestamps(ta, tb)
  if (byTime !== 0) return byTime
  if (a.author !== b.author) return a.author < b.author ? -1 : 1
  return a.sig < b.sig ? -1 : a.sig > b.sig ? 1 : 0
}

/** MergeResult says what merging one envelope did. */
export type MergeResult =
  | { status: 'applied'; previous?: Envelope }
  | { status: 'stale' }
  | { status: 'rejected'; reason: string; why: 'malformed' | 'forged' | 'refused' }

function isEnvelopeShaped(v: unknown): v is Envelope {
  const e = v as Partial<Envelope> | null
  return typeof e === 'object' && e !== null && typeof e.key === 'string' && typeof e.hlc === 'string' && typeof e.author === 'string' && typeof e.sig === 'string'
}

/** Version identifies an entry for anti-entropy: `HLC AUTHOR SIG` of the winning envelope. */
export function versionOf(env: Envelope): string {
  return `${env.hlc} ${env.author} ${env.sig}`
}

/** LwwMap is the CRDT. Not safe for concurrent use from several async flows without a caller lock. */
export class LwwMap {
  private readonly entries = new Map<string, Envelope>()
  private readonly authorize: Authorizer

  constructor(authorize: Authorizer) {
    this.authorize = authorize
  }

  /**
   * merge verifies `input` (shape, signature, authorisation) and keeps it when it beats
   * the current envelope for its key. Returns what happened; never throws on bad input.
   */
  merge(input: unknown): MergeResult {
    // An envelope that would not win changes nothing: say so before paying for a signature check.
    const current = isEnvelopeShaped(input) ? this.entries.get(input.key) : undefined
    if (current !== undefined && decodeTimestamp((input as Envelope).hlc) !== undefined && compareEnvelopes(input as Envelope, current) <= 0) return { status: 'stale' }
    let env: Envelope
    try {
      env = checkEnvelope(input)
    } catch (err) {
      return { status: 'rejected', reason: (err as Error).message, why: err instanceof SignatureError ? 'forged' : 'malformed' }
    }
    const refusal = this.authorize(env)
    if (refusal !== undefined) return { status: 'rejected', reason: refusal, why: 'refused' }
    this.entries.set(env.key, env)
    return current === undefined ? { status: 'applied' } : { status: 'applied', previous: current }
  }

  /**
   * restore sets `key` to `env` (or removes it) without merge rules. Local bookkeeping
   * only — forgetting a long-dead node, undoing a merge a caller refused — never for
   * replicated writes.
   */
  restore(key: string, env: Envelope | undefined): void {
    if (env === undefined) this.entries.delete(key)
    else this.entries.set(key, env)
  }

  /** get returns the winning envelope for `key` (a tombstone included), if any. */
  get(key: string): Envelope | undefined {
    return this.entries.get(key)
  }

  /** value returns the live value under `key`: undefined when absent or deleted. */
  value(key: string): unknown {
    const e = this.entries.get(key)
    return e?.op === 'put' ? e.value : undefined
  }

  /** all returns every envelope, tombstones included, sorted by key. */
  all(): Envelope[] {
    return [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** live returns the non-deleted envelopes whose key starts with `prefix`, sorted by key. */
  live(prefix = ''): Envelope[] {
    return this.all().filter((e) => e.op === 'put' && e.key.startsWith(prefix))
  }

  get size(): number {
    return this.entries.size
  }

  /** summary maps each key to its version, for a peer to compare with its own. */
  summary(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const e of this.all()) out[e.key] = versionOf(e)
    return out
  }

  /** digest is a hash of the whole state: equal digests mean equal maps. */
  digest(): string {
    const h = createHash('sha256')
    for (const e of this.all()) h.update(`${e.key}\n${versionOf(e)}\n`)
    return h.digest('hex')
  }

  /**
   * diff returns the envelopes a peer with `summary` lacks or holds an older
   * version of (the peer's half of an anti-entropy exchange), and the keys where the peer
   * may hold something newer, which we should ask for.
   */
  diff(summary: Readonly<Record<string, string>>): { send: Envelope[]; want: string[] } {
    const send: Envelope[] = []
    const want: string[] = []
    for (const e of this.all()) {
      const theirs = summary[e.key]
      if (theirs === undefined) send.push(e)
      else if (theirs !== versionOf(e)) {
        const [hlc = '', author = '', sig = ''] = theirs.split(' ')
        // A malformed remote version is treated as older: we send ours and let merge judge.
        const malformed = decodeTimestamp(hlc) === undefined
        if (malformed || compareEnvelopes(e, { key: e.key, op: 'delete', hlc, author, sig }) > 0) send.push(e)
        else want.push(e.key)
      }
    }
    for (const key of Object.keys(summary)) if (!this.entries.has(key)) want.push(key)
    return { send, want }
  }
}
