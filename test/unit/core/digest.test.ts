import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { LwwMap, trustedAuthors } from '../../../core/crdt.js'
import { BUCKET_HASH_BYTES, BucketDigest, DIGEST_BITS, bucketOf, differingBuckets, digestLevel } from '../../../core/digest.js'
import { signEnvelope, type Envelope } from '../../../core/envelope.js'
import { generateKeyPair } from '../../../core/keys.js'

const levels = fc.integer({ min: 0, max: DIGEST_BITS })
// (key, version) pairs with distinct keys, as in a map.
const entries = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 8 })), { selector: ([k]) => k, maxLength: 60 })

const digestOf = (pairs: readonly (readonly [string, string])[]): BucketDigest => {
  const d = new BucketDigest()
  for (const [k, v] of pairs) d.update(k, undefined, v)
  return d
}

describe('bucketed digest', () => {
  it('a fixed input has a fixed root (the wire format does not drift; computed independently in Python)', () => {
    const d = digestOf([
      ['ds/default/web', '000000000000001.000000 author sig'],
      ['node/abc', '000000000000002.000000 author sig'],
    ])
    assert.equal(d.root(), '2a2cf2f620241f89bdd1977f58d3c80e603034168c36559a69add10b0ee93d17')
    assert.equal(bucketOf('ds/default/web', DIGEST_BITS), 0xe74)
  })

  const levelCases: [string, number, number][] = [
    ['an empty map is compared at the coarsest level', 0, 4],
    ['ten entries are compared at the coarsest level', 10, 4],
    ['a hundred entries use 32 buckets', 100, 5],
    ['ten thousand entries use 256 buckets', 10_000, 8],
    ['a million entries use the finest level', 1_000_000, DIGEST_BITS],
    ['a billion entries still use the finest level', 1e9, DIGEST_BITS],
  ]
  for (const [name, n, level] of levelCases) {
    it(name, () => assert.equal(digestLevel(n), level))
  }

  it('the same entries in any order give the same digest at every level (property)', () => {
    fc.assert(
      fc.property(entries, fc.nat(), levels, (pairs, seed, level) => {
        const shuffled = [...pairs].sort((a, b) => ((a[0].charCodeAt(0) * 31 + seed) % 97) - ((b[0].charCodeAt(0) * 31 + seed) % 97))
        const x = digestOf(pairs)
        const y = digestOf(shuffled)
        assert.equal(x.root(), y.root())
        assert.deepEqual(x.buckets(level), y.buckets(level))
      }),
    )
  })

  it('an entry added then removed leaves no trace; an intermediate version neither (property)', () => {
    fc.assert(
      fc.property(entries, fc.string({ minLength: 1 }), (pairs, extra) => {
        const d = digestOf(pairs)
        const before = d.root()
        if (!pairs.some(([k]) => k === extra)) {
          d.update(extra, undefined, 'v1')
          d.update(extra, 'v1', 'v2')
          d.update(extra, 'v2', undefined)
        }
        assert.equal(d.root(), before)
      }),
    )
  })

  it('one changed, added or removed entry changes exactly one bucket at every level (property)', () => {
    fc.assert(
      fc.property(entries, fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('change', 'add', 'remove'), levels, (pairs, key, what, level) => {
        const d = digestOf(pairs)
        const current = pairs.find(([k]) => k === key)?.[1]
        const before = d.buckets(level)
        const root = d.root()
        if (what === 'remove' && current === undefined) return
        d.update(key, current, what === 'remove' ? undefined : `${current ?? ''}+changed`)
        assert.deepEqual(differingBuckets(before, d.buckets(level)), [bucketOf(key, level)])
        assert.notEqual(d.root(), root)
      }),
    )
  })

  it('a bucket lists exactly the keys that hash into it', () => {
    const d = digestOf([...Array(200).keys()].map((i) => [`k${i}`, 'v'] as const))
    const level = 5
    const seen = new Set<string>()
    for (let b = 0; b < 1 << level; b++) {
      for (const k of d.keys(level, b)) {
        assert.equal(bucketOf(k, level), b)
        seen.add(k)
      }
    }
    assert.equal(seen.size, 200)
  })

  it('views of different levels cannot be compared', () => {
    assert.throws(() => differingBuckets(new Uint8Array(BUCKET_HASH_BYTES * 16), new Uint8Array(BUCKET_HASH_BYTES * 32)), RangeError)
    assert.throws(() => new BucketDigest().buckets(DIGEST_BITS + 1), RangeError)
  })
})

// LwwMap keeps its digest up to date; the exchange's pieces bring two maps together.
const keys = [generateKeyPair(), generateKeyPair()].map((k) => ({ id: k.id, priv: createPrivateKey(k.privateKeyPem) }))
const trust = trustedAuthors(keys.map((k) => k.id))
const pool: Envelope[] = []
for (let i = 0; i < 80; i++) {
  for (const wall of [1, 2]) {
    for (const k of keys) pool.push(signEnvelope(`ds/default/app-${i}`, { wall, i }, { wall, logical: 0 }, k.priv))
  }
}
const build = (envs: readonly Envelope[]): LwwMap => {
  const m = new LwwMap(trust)
  for (const e of envs) m.merge(e)
  return m
}

/** exchange runs one bucketed exchange from `a` to `b`, with the bounds the agent passes; returns whether the roots were equal. */
function exchange(a: LwwMap, b: LwwMap, maxEntries = Number.POSITIVE_INFINITY, maxSend = Number.POSITIVE_INFINITY): boolean {
  if (a.digest() === b.digest()) return true
  const level = digestLevel(Math.max(a.size, b.size))
  const differ = differingBuckets(a.bucketHashes(level), b.bucketHashes(level))
  const offered = a.summary(level, differ, maxEntries)
  const answer = b.diff(level, offered.buckets, offered.entries, maxSend)
  for (const e of answer.send) a.merge(e)
  for (const k of answer.want.slice(0, maxSend)) {
    const e = a.get(k)
    if (e !== undefined) b.merge(e)
  }
  return false
}

describe('anti-entropy pieces on LwwMap', () => {
  it('a map built in any order, with restores, has the digest of its entries (property)', () => {
    fc.assert(
      fc.property(fc.subarray(pool), fc.subarray(pool), (x, y) => {
        const m = build(x)
        // Restoring keys to what another replica holds, then back, is bookkeeping: the digest follows.
        for (const e of y) m.restore(e.key, e)
        const after = build(m.all())
        assert.equal(m.digest(), after.digest())
      }),
      { numRuns: 30 },
    )
  })

  it('one exchange makes two random maps equal (property)', () => {
    fc.assert(
      fc.property(fc.subarray(pool), fc.subarray(pool), (x, y) => {
        const a = build(x)
        const b = build(y)
        exchange(a, b)
        assert.equal(a.digest(), b.digest())
        assert.deepEqual(a.all(), b.all())
      }),
      { numRuns: 50 },
    )
  })

  it('capped exchanges converge over rounds (property)', () => {
    fc.assert(
      fc.property(fc.subarray(pool), fc.subarray(pool), (x, y) => {
        const a = build(x)
        const b = build(y)
        let rounds = 0
        while (!exchange(rounds % 2 === 0 ? a : b, rounds % 2 === 0 ? b : a, 24, 3)) assert.ok(++rounds < 200, 'converges within 200 rounds')
        assert.deepEqual(a.all(), b.all())
      }),
      { numRuns: 30 },
    )
  })

  it('a summary offers only whole buckets within the cap, and diff answers only the buckets asked', () => {
    const a = build(pool.filter((_, i) => i % 4 === 0))
    const level = 4
    const all = [...Array(1 << level).keys()]
    const s = a.summary(level, all, 10)
    assert.ok(s.entries.length <= 10)
    for (const [key] of s.entries) assert.ok(s.buckets.includes(bucketOf(key, level)))
    for (const b of s.buckets) assert.equal(s.entries.filter(([k]) => bucketOf(k, level) === b).length, a.all().filter((e) => bucketOf(e.key, level) === b).length)
    // An empty peer asking about one bucket gets that bucket only, and at most maxSend of it.
    const empty = new LwwMap(trust)
    const one = all.find((b) => a.all().filter((e) => bucketOf(e.key, level) === b).length >= 2) as number
    const d = a.diff(level, [one], [], 1)
    assert.equal(d.send.length, 1)
    assert.equal(bucketOf(d.send[0]?.key ?? '', level), one)
    assert.deepEqual(empty.diff(level, [one], []), { send: [], want: [] })
  })
})
