// The replicated store's state: a last-writer-wins map of signed envelopes. Merge keeps,
// per key, the envelope with the greater (hlc, author) — signature bytes break the tie
// an equivocating author could create — so merge is commutative, associative and
// idempotent. Every envelope is verified and authorised before it can enter. The map keeps
// its bucketed digest (core/digest.ts) up to date on every change, for anti-entropy. No I/O here.

import { createHash } from 'node:crypto'
import { BucketDigest, bucketOf } from './digest.js'
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

/** BatchMergeResult says what merging several envelopes as one write did: each one's result, or the refusal that kept them all out. */
export type BatchMergeResult =
  | { status: 'merged'; results: Array<Exclude<MergeResult, { status: 'rejected' }>> }
  | { status: 'rejected'; index: number; reason: string; why: 'malformed' | 'forged' | 'refused' }

type Prepared = { status: 'stale' } | Extract<MergeResult, { status: 'rejected' }> | { status: 'ready'; env: Envelope; current: Envelope | undefined }

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
  private readonly buckets = new BucketDigest()
  private readonly authorize: Authorizer
  private readonly check: (input: unknown) => Envelope

  /** `check` verifies an envelope's shape and signature (default checkEnvelope: unbound, v1). */
  constructor(authorize: Authorizer, check: (input: unknown) => Envelope = (i) => checkEnvelope(i)) {
    this.authorize = authorize
    this.check = check
  }

  /**
   * merge verifies `input` (shape, signature, authorisation) and keeps it when it beats
   * the current envelope for its key. Returns what happened; never throws on bad input.
   */
  merge(input: unknown): MergeResult {
    const r = this.prepare(input)
    return 'env' in r ? this.commit(r.env, r.current) : r
  }

  /**
   * mergeAll merges several envelopes of distinct keys as one write: every one is verified
   * before any is kept, so when one is refused (or two name one key) nothing changes and the
   * refusal says which. Otherwise each result is what merge would have said.
   */
  mergeAll(inputs: readonly unknown[]): BatchMergeResult {
    const keys = new Set<string>()
    const prepared: Array<Exclude<Prepared, { status: 'rejected' }>> = []
    for (const [index, input] of inputs.entries()) {
      const key = isEnvelopeShaped(input) ? input.key : undefined
      if (key !== undefined && keys.has(key)) return { status: 'rejected', index, reason: `key ${key} is written twice in one batch`, why: 'malformed' }
      if (key !== undefined) keys.add(key)
      const r = this.prepare(input)
      if (r.status === 'rejected') return { ...r, index }
      prepared.push(r)
    }
    return { status: 'merged', results: prepared.map((r) => ('env' in r ? this.commit(r.env, r.current) : r)) }
  }

  /** prepare checks `input` against the map without changing it: stale, refused, or ready to commit. */
  private prepare(input: unknown): Prepared {
    // An envelope that would not win changes nothing: say so before paying for a signature check.
    const current = isEnvelopeShaped(input) ? this.entries.get(input.key) : undefined
    if (current !== undefined && decodeTimestamp((input as Envelope).hlc) !== undefined && compareEnvelopes(input as Envelope, current) <= 0) return { status: 'stale' }
    let env: Envelope
    try {
      env = this.check(input)
    } catch (err) {
      return { status: 'rejected', reason: (err as Error).message, why: err instanceof SignatureError ? 'forged' : 'malformed' }
    }
    const refusal = this.authorize(env)
    if (refusal !== undefined) return { status: 'rejected', reason: refusal, why: 'refused' }
    return { status: 'ready', env, current }
  }

  private commit(env: Envelope, current: Envelope | undefined): Extract<MergeResult, { status: 'applied' }> {
    this.entries.set(env.key, env)
    this.buckets.update(env.key, current === undefined ? undefined : versionOf(current), versionOf(env))
    return current === undefined ? { status: 'applied' } : { status: 'applied', previous: current }
  }

  /**
   * restore sets `key` to `env` (or removes it) without merge rules. Local bookkeeping
   * only — forgetting a long-dead node, undoing a merge a caller refused — never for
   * replicated writes.
   */
  restore(key: string, env: Envelope | undefined): void {
    const current = this.entries.get(key)
    if (env === undefined) this.entries.delete(key)
    else this.entries.set(key, env)
    this.buckets.update(key, current === undefined ? undefined : versionOf(current), env === undefined ? undefined : versionOf(env))
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

  /** digest returns the root of the bucketed digest (core/digest.ts): equal digests mean equal maps. */
  digest(): string {
    return this.buckets.root()
  }

  /** bucketHashes returns the digest's view at `level`: 2^level hashes of 8 bytes, concatenated. */
  bucketHashes(level: number): Uint8Array {
    return this.buckets.buckets(level)
  }

  /**
   * summary describes our entries in `buckets` (of the view at `level`) for a peer to compare
   * with its own: whole buckets, taken in the given order while the entries stay within
   * `maxEntries` (a bucket that alone exceeds it is skipped). Returns the buckets covered and
   * their entries.
   */
  summary(level: number, buckets: readonly number[], maxEntries: number): { buckets: number[]; entries: SummaryEntry[] } {
    const covered: number[] = []
    const entries: SummaryEntry[] = []
    for (const b of buckets) {
      const keys = this.buckets.keys(level, b)
      if (entries.length + keys.length > maxEntries) continue
      covered.push(b)
      for (const k of keys) {
        const e = this.entries.get(k)
        if (e !== undefined) entries.push([e.key, e.hlc, versionTag(e)])
      }
    }
    return { buckets: covered, entries }
  }

  /**
   * diff compares our entries in `buckets` (of the view at `level`) with a peer's summary of
   * the same buckets (the peer's half of an anti-entropy exchange). Returns the envelopes the
   * peer lacks or holds an older version of (at most `maxSend`), and the keys where the peer
   * may hold something newer, which we should ask for. Rules, per key:
   *   1. only we have it: send;
   *   2. only the peer has it: want;
   *   3. same tag: nothing;
   *   4. a greater hlc wins: send ours or want theirs; a malformed remote hlc counts as older;
   *   5. same hlc, different tag (a tie broken by author or signature, which a tag does not
   *      show): both — send ours and want theirs; merge decides on each side.
   * Summary entries outside `buckets` are ignored.
   */
  diff(level: number, buckets: readonly number[], theirs: readonly SummaryEntry[], maxSend = Number.POSITIVE_INFINITY): { send: Envelope[]; want: string[] } {
    const asked = new Set(buckets)
    const remote = new Map<string, SummaryEntry>()
    for (const s of theirs) if (asked.has(bucketOf(s[0], level))) remote.set(s[0], s)
    const send: Envelope[] = []
    const want: string[] = []
    for (const b of asked) {
      for (const k of this.buckets.keys(level, b)) {
        const e = this.entries.get(k)
        if (e === undefined) continue
        const r = remote.get(k)
        remote.delete(k)
        if (r !== undefined && r[2] === versionTag(e)) continue
        const order = r === undefined ? 1 : compareHlc(e.hlc, r[1])
        if (order >= 0 && send.length < maxSend) send.push(e)
        if (order <= 0) want.push(k)
      }
    }
    for (const k of remote.keys()) want.push(k)
    return { send, want }
  }
}

/** SummaryEntry describes one entry to a peer: [key, hlc, version tag]. */
export type SummaryEntry = [key: string, hlc: string, tag: string]

/** versionTag is a short hash of versionOf(env) (64 bits, base64url): it tells versions apart, not their order. */
export function versionTag(env: Envelope): string {
  return createHash('sha256').update(versionOf(env)).digest('base64url').slice(0, 11)
}

/** compareHlc orders two encoded timestamps; a malformed `theirs` counts as older than `ours`. */
function compareHlc(ours: string, theirs: string): number {
  const a = decodeTimestamp(ours)
  const b = decodeTimestamp(theirs)
  if (a === undefined || b === undefined) return 1
  return Math.sign(compareTimestamps(a, b))
}

