import assert from 'node:assert/strict'
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { LwwMap, trustedAuthors, type Authorizer } from '../../../core/crdt.js'
import { bucketOf, differingBuckets, digestLevel } from '../../../core/digest.js'
import { checkEnvelope, signEnvelope, type Envelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePublicKey } from '../../../core/keys.js'

const keys = [generateKeyPair(), generateKeyPair()].map((k) => ({ id: k.id, priv: createPrivateKey(k.privateKeyPem), pub: k.publicKeyPem }))
const [alice, bob] = keys as [{ id: string; priv: KeyObject; pub: string }, { id: string; priv: KeyObject; pub: string }]
const outsider = generateKeyPair()
const trust: Authorizer = trustedAuthors([alice.id, bob.id])

// A pool of writes: few keys and close timestamps so that conflicts and ties are common.
const pool: Envelope[] = []
for (const key of ['ds/default/a', 'ds/default/b', 'ds/kube-system/c']) {
  for (const wall of [1, 2, 3]) {
    for (const k of keys) {
      pool.push(signEnvelope(key, { image: `x:${wall}`, by: k.id.slice(0, 4) }, { wall, logical: 0 }, k.priv))
      pool.push(signEnvelope(key, undefined, { wall, logical: 1 }, k.priv))
    }
  }
}

const build = (envs: readonly Envelope[]): LwwMap => {
  const m = new LwwMap(trust)
  for (const e of envs) m.merge(e)
  return m
}
const mergeMaps = (a: LwwMap, b: LwwMap): LwwMap => build([...a.all(), ...b.all()])
const subset = fc.subarray(pool)

describe('signed envelopes', () => {
  it('a signed envelope verifies and survives JSON transport', () => {
    const e = signEnvelope('ds/default/a', { b: 1, a: [1, 2] }, { wall: 5, logical: 0 }, alice.priv)
    assert.deepEqual(checkEnvelope(JSON.parse(JSON.stringify(e))), e)
  })

  it('public keys load from PEM or from their id', () => {
    assert.equal(parsePublicKey(alice.pub), alice.id)
    assert.equal(parsePublicKey(alice.id), alice.id)
    assert.throws(() => parsePublicKey('not a key'), { name: 'SignatureError' })
  })

  const bad: [string, (e: Envelope) => unknown, RegExp][] = [
    ['an unsigned envelope', (e) => ({ ...e, sig: undefined }), /malformed envelope: sig/],
    ['a value altered after signing', (e) => ({ ...e, value: { image: 'evil' } }), /bad signature/],
    ['a key altered after signing', (e) => ({ ...e, key: 'ds/default/other' }), /bad signature/],
    ['a timestamp altered after signing', (e) => ({ ...e, hlc: '000000000000099.000000' }), /bad signature/],
    ['a put turned into a delete', (e) => ({ ...e, op: 'delete', value: undefined }), /bad signature/],
    ['another author claimed', (e) => ({ ...e, author: bob.id }), /bad signature/],
    ['a signature of the wrong length', (e) => ({ ...e, sig: 'AAAA' }), /malformed envelope: sig/],
    ['extra fields', (e) => ({ ...e, admin: true }), /malformed envelope/],
    ['not an object', () => 'hello', /malformed envelope/],
  ]
  for (const [name, mutate, re] of bad) {
    it(`merge rejects ${name}`, () => {
      const m = new LwwMap(trust)
      const e = signEnvelope('ds/default/a', { image: 'x:1' }, { wall: 5, logical: 0 }, alice.priv)
      const r = m.merge(mutate(e))
      assert.equal(r.status, 'rejected')
      assert.match(r.status === 'rejected' ? r.reason : '', re)
      assert.equal(m.size, 0)
    })
  }

  it('merge rejects a correctly signed envelope from an untrusted author', () => {
    const m = new LwwMap(trust)
    const r = m.merge(signEnvelope('ds/default/a', { x: 1 }, { wall: 5, logical: 0 }, createPrivateKey(outsider.privateKeyPem)))
    assert.deepEqual(r, { status: 'rejected', reason: `author ${outsider.id} is not a trusted operator key`, why: 'refused' })
    assert.equal(m.size, 0)
  })
})

describe('LWW map', () => {
  it('a replayed older envelope changes nothing', () => {
    const m = new LwwMap(trust)
    const v1 = signEnvelope('k', { v: 1 }, { wall: 1, logical: 0 }, alice.priv)
    const v2 = signEnvelope('k', { v: 2 }, { wall: 2, logical: 0 }, alice.priv)
    assert.equal(m.merge(v1).status, 'applied')
    assert.equal(m.merge(v2).status, 'applied')
    assert.equal(m.merge(v1).status, 'stale')
    assert.equal(m.merge(v2).status, 'stale')
    assert.deepEqual(m.value('k'), { v: 2 })
  })

  it('a signed tombstone deletes and a later put revives', () => {
    const m = new LwwMap(trust)
    m.merge(signEnvelope('k', { v: 1 }, { wall: 1, logical: 0 }, alice.priv))
    m.merge(signEnvelope('k', undefined, { wall: 2, logical: 0 }, bob.priv))
    assert.equal(m.value('k'), undefined)
    assert.equal(m.get('k')?.op, 'delete')
    assert.deepEqual(m.live(), [])
    m.merge(signEnvelope('k', { v: 3 }, { wall: 3, logical: 0 }, alice.priv))
    assert.deepEqual(m.value('k'), { v: 3 })
  })

  it('equal timestamps are broken by author', () => {
    const a = signEnvelope('k', { by: 'a' }, { wall: 1, logical: 0 }, alice.priv)
    const b = signEnvelope('k', { by: 'b' }, { wall: 1, logical: 0 }, bob.priv)
    const winner = alice.id > bob.id ? { by: 'a' } : { by: 'b' }
    assert.deepEqual(build([a, b]).value('k'), winner)
    assert.deepEqual(build([b, a]).value('k'), winner)
  })

  it('merge is commutative (property)', () => {
    fc.assert(fc.property(subset, subset, (x, y) => assert.equal(mergeMaps(build(x), build(y)).digest(), mergeMaps(build(y), build(x)).digest())))
  })

  it('merge is associative (property)', () => {
    fc.assert(
      fc.property(subset, subset, subset, (x, y, z) => {
        const left = mergeMaps(mergeMaps(build(x), build(y)), build(z))
        const right = mergeMaps(build(x), mergeMaps(build(y), build(z)))
        assert.equal(left.digest(), right.digest())
      }),
    )
  })

  it('merge is idempotent and order-insensitive (property)', () => {
    fc.assert(
      fc.property(subset, fc.nat(), (x, seed) => {
        const once = build(x)
        assert.equal(mergeMaps(once, once).digest(), once.digest())
        const shuffled = [...x].sort((a, b) => ((a.sig.charCodeAt(seed % 80) ?? 0) - (b.sig.charCodeAt(seed % 80) ?? 0)))
        assert.equal(build(shuffled).digest(), once.digest())
      }),
    )
  })

  it('anti-entropy over differing buckets brings two replicas to the same digest (property)', () => {
    fc.assert(
      fc.property(subset, subset, (x, y) => {
        const a = build(x)
        const b = build(y)
        const level = digestLevel(Math.max(a.size, b.size))
        const differ = differingBuckets(a.bucketHashes(level), b.bucketHashes(level))
        const offered = a.summary(level, differ, Number.POSITIVE_INFINITY)
        const fromB = b.diff(level, offered.buckets, offered.entries)
        for (const e of fromB.send) a.merge(e)
        for (const key of fromB.want) {
          const e = a.get(key)
          if (e !== undefined) b.merge(e)
        }
        assert.equal(a.digest(), b.digest())
        assert.deepEqual(a.all(), b.all())
      }),
    )
  })

  it('a malformed remote summary entry is answered with our envelope', () => {
    const e = pool[0] as Envelope
    const a = build([e])
    assert.equal(a.diff(4, [bucketOf(e.key, 4)], [[e.key, 'garbage', 'AAAAAAAAAAA']]).send.length, 1)
  })
})

describe('LWW map: envelopes written together (mergeAll)', () => {
  const put = (key: string, wall: number, k = alice): Envelope => signEnvelope(key, { image: `x:${wall}` }, { wall, logical: 0 }, k.priv)

  it('keeps every envelope, each as merge would say', () => {
    const m = build([put('ds/default/a', 1)])
    const r = m.mergeAll([put('ds/default/a', 2), put('history/default/a', 2), put('ds/default/b', 0)])
    assert.equal(r.status, 'merged')
    assert.deepEqual(r.status === 'merged' ? r.results.map((x) => x.status) : [], ['applied', 'applied', 'applied'])
    assert.equal((m.get('ds/default/a')?.value as { image: string }).image, 'x:2')
    assert.equal(m.size, 3)
  })

  it('an envelope that would not win is stale and the others are kept', () => {
    const m = build([put('ds/default/a', 5)])
    const r = m.mergeAll([put('ds/default/a', 2), put('history/default/a', 2)])
    assert.deepEqual(r.status === 'merged' ? r.results.map((x) => x.status) : r, ['stale', 'applied'])
  })

  it('one forged, untrusted or malformed envelope keeps them all out, and says which', () => {
    const forged = { ...put('history/default/a', 2), value: { image: 'evil' } }
    for (const [bad, why] of [
      [forged, 'forged'],
      [put('history/default/a', 2, { ...alice, id: outsider.id, priv: createPrivateKey(outsider.privateKeyPem) }), 'refused'],
      [{ key: 'history/default/a' }, 'malformed'],
    ] as const) {
      const m = build([put('ds/default/a', 1)])
      const before = m.digest()
      const r = m.mergeAll([put('ds/default/a', 2), bad])
      assert.equal(r.status, 'rejected')
      assert.equal(r.status === 'rejected' ? `${r.index} ${r.why}` : '', `1 ${why}`)
      assert.equal(m.digest(), before, 'nothing changed')
    }
  })

  it('a key written twice in one batch is refused', () => {
    const m = new LwwMap(trust)
    const r = m.mergeAll([put('ds/default/a', 1), put('ds/default/a', 2)])
    assert.equal(r.status === 'rejected' ? r.reason : '', 'key ds/default/a is written twice in one batch')
    assert.equal(m.size, 0)
  })
})
