import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHash } from 'node:crypto'
import { committeeOf, DEFAULT_COMMITTEE, knowsCommittees, leaseMessageSchema, MAX_TERM_STEP, quorumOf, SlotTable, termSeenIn, viewOf, type ClaimMessage, type VoterView } from '../../../core/lease.js'

const TTL = 10_000
const A = 'a'.repeat(43)
const B = 'b'.repeat(43)
const C = 'c'.repeat(43)

const voter = (over: Partial<VoterView> = {}): VoterView => ({
  view: 'v1',
  revision: () => 'r2',
  limit: (_ds, kind) => (kind === 'surge' ? 1 : 1),
  unavailable: () => 0,
  ...over,
  ineligible: over.ineligible ?? (() => undefined),
  onCommittee: over.onCommittee ?? (() => true),
})

const claim = (slot: number, term: number, over: Partial<ClaimMessage> = {}): ClaimMessage => ({ t: 'claim', ds: 'default/agent', kind: 'unavailable', slot, term, revision: 'r2', view: 'v1', ...over })

describe('lease slots (one voter)', () => {
  it('grants a free slot and refuses it to another host while the grant is young', () => {
    const t = new SlotTable(TTL)
    assert.deepEqual(t.claim(A, claim(0, 1), 0, voter()), { grant: true })
    const r = t.claim(B, claim(0, 2), 1000, voter())
    assert.equal(r.grant, false)
    assert.match((r as { reason: string }).reason, /held by/)
  })

  it('a grant never acted on lapses after the TTL', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 1), 0, voter())
    assert.deepEqual(t.claim(B, claim(0, 2), TTL, voter()), { grant: true })
  })

  it('an acting holder keeps the slot past the TTL until it releases or recovers', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 1), 0, voter())
    assert.equal(t.act(A, claim(0, 1), 100), true)
    assert.equal(t.claim(B, claim(0, 2), 10 * TTL, voter()).grant, false)
    t.recover(A, 'default/agent')
    // The refused claim taught the voter term 2: B asks one above it, as a claimant does.
    assert.deepEqual(t.claim(B, claim(0, 3), 10 * TTL, voter()), { grant: true })
  })

  it('an act after the grant lapsed is not acknowledged', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 1), 0, voter())
    assert.equal(t.act(A, claim(0, 1), TTL + 1), false)
  })

  it('terms only grow: an older term is refused, a stale release changes nothing', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 5), 0, voter())
    t.act(A, claim(0, 5), 1)
    t.release(A, claim(0, 5))
    assert.match((t.claim(B, claim(0, 5), 2, voter()) as { reason: string }).reason, /stale term/)
    assert.deepEqual(t.claim(B, claim(0, 6), 2, voter()), { grant: true })
    t.act(B, claim(0, 6), 3)
    assert.equal(t.release(A, claim(0, 5)), false, 'the old holder cannot free the new holder')
    assert.equal(t.held('default/agent', 4).length, 1)
  })

  it('the holder renews its own grant with the same term', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 1), 0, voter())
    assert.deepEqual(t.claim(A, claim(0, 1), 5000, voter()), { grant: true })
    assert.equal(t.claim(B, claim(0, 2), 12_000, voter()).grant, false, 'the renewal moved the expiry')
  })

  it('refuses when the voter set, the revision or the slot range differ', () => {
    const t = new SlotTable(TTL)
    assert.match((t.claim(A, claim(0, 1, { view: 'v2' }), 0, voter()) as { reason: string }).reason, /voter sets differ/)
    assert.match((t.claim(A, claim(0, 1, { revision: 'r1' }), 0, voter()) as { reason: string }).reason, /not the current/)
    assert.match((t.claim(A, claim(1, 1), 0, voter()) as { reason: string }).reason, /not below/)
    assert.match((t.claim(A, claim(0, 1), 0, voter({ revision: () => undefined })) as { reason: string }).reason, /unknown DaemonSet/)
  })

  it('hosts already unavailable use up the budget', () => {
    const t = new SlotTable(TTL)
    const r = t.claim(A, claim(0, 1), 0, voter({ unavailable: () => 1 }))
    assert.match((r as { reason: string }).reason, /already unavailable/)
  })

  it('one host holds at most one slot of a DaemonSet', () => {
    const t = new SlotTable(TTL)
    const two = voter({ limit: () => 2 })
    t.claim(A, claim(0, 1), 0, two)
    assert.match((t.claim(A, claim(1, 1), 1, two) as { reason: string }).reason, /already holds/)
    assert.deepEqual(t.claim(C, claim(1, 2), 1, two), { grant: true })
  })

  it('votes survive a restart (load counts the grant as new)', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 3), 0, voter())
    const u = new SlotTable(TTL)
    u.load(t.all(), t.termsSnapshot(), 50_000)
    assert.equal(u.maxTerm('default/agent', 'unavailable', 0), 3)
    assert.equal(u.claim(B, claim(0, 4), 55_000, voter()).grant, false)
  })

  it('learns terms only from valid claims, bounded: 2^53-1 is refused and teaches nothing', () => {
    const t = new SlotTable(TTL)
    assert.match((t.claim(A, claim(0, Number.MAX_SAFE_INTEGER), 0, voter()) as { reason: string }).reason, /too far ahead of 0/)
    assert.match((t.claim(A, claim(0, 2 ** 40, { revision: 'r1' }), 0, voter()) as { reason: string }).reason, /not the current/)
    assert.match((t.claim(A, claim(0, 2 ** 30), 0, voter({ ineligible: () => 'host-a already runs the current revision' })) as { reason: string }).reason, /already runs/)
    assert.equal(t.maxTerm('default/agent', 'unavailable', 0), 0)
    assert.deepEqual(t.claim(A, claim(0, MAX_TERM_STEP), 0, voter()), { grant: true })
    assert.equal(t.maxTerm('default/agent', 'unavailable', 0), MAX_TERM_STEP)
  })

  it('a poisoned term on disk is dropped at load, with its hold', () => {
    const t = new SlotTable(TTL)
    const dropped = t.load([{ ds: 'default/agent', kind: 'unavailable', slot: 0, holder: A, term: Number.MAX_SAFE_INTEGER, revision: 'r2', grantedAt: 0, acting: true }], { 'default/agent|unavailable|0': Number.MAX_SAFE_INTEGER, 'default/agent|unavailable|1': 7 }, 0)
    assert.equal(dropped, 1)
    assert.equal(t.all().length, 0)
    assert.equal(t.maxTerm('default/agent', 'unavailable', 1), 7)
    assert.deepEqual(t.claim(B, claim(0, 1), 0, voter()), { grant: true })
  })

  it('frees holds by holder (gone) and by an operator\'s request (same revision, term up to its own)', () => {
    const t = new SlotTable(TTL)
    const two = voter({ limit: () => 2 })
    t.claim(A, claim(0, 4), 0, two)
    t.act(A, claim(0, 4), 1)
    t.claim(B, claim(1, 9), 0, two)
    t.act(B, claim(1, 9), 1)
    assert.equal(t.releaseBy(A, { ds: 'default/agent', kind: 'unavailable', slot: 0, term: 3, revision: 'r2' }), undefined, 'a later term is untouched')
    assert.equal(t.releaseBy(A, { ds: 'default/agent', kind: 'unavailable', slot: 0, term: 4, revision: 'r1' }), undefined, 'another revision is untouched')
    assert.equal(t.releaseBy(B, { ds: 'default/agent', kind: 'unavailable', slot: 0, term: 4, revision: 'r2' }), undefined, 'another holder is untouched')
    assert.equal(t.releaseBy(A, { ds: 'default/agent', kind: 'unavailable', slot: 0, term: 5, revision: 'r2' })?.holder, A)
    assert.deepEqual(t.dropHolder(B).map((h) => h.slot), [1])
    assert.deepEqual(t.all(), [])
  })

  it('forgets a deleted DaemonSet\'s holds and terms', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 4), 0, voter())
    assert.deepEqual([...t.daemonSets()], ['default/agent'])
    t.forget('default/agent')
    assert.deepEqual(t.all(), [])
    assert.deepEqual(t.termsSnapshot(), {})
    assert.equal(t.daemonSets().size, 0)
  })

  it('quorums are ceil((n+f+1)/2), at most n: any two share f+1 voters', () => {
    const table: [n: number, f: number, quorum: number][] = [[1, 1, 1], [2, 1, 2], [3, 1, 3], [4, 1, 3], [5, 1, 4], [7, 1, 5], [10, 1, 6], [10, 0, 6], [1, 0, 1], [2, 0, 2], [3, 0, 2], [5, 0, 3], [4, 0, 3], [7, 2, 5]]
    for (const [n, f, q] of table) {
      assert.equal(quorumOf(n, f), q, `n=${n} f=${f}`)
      if (n >= f + 1) assert.ok(2 * q - n >= f + 1, `n=${n} f=${f}: two quorums share at least f+1`)
    }
    assert.notEqual(viewOf(['x', 'y'], 0).view, viewOf(['x', 'y'], 1).view, 'f is part of the view')
  })

  it('viewOf needs a strict majority at f = 0', () => {
    assert.equal(viewOf(['x', 'y', 'z', 'w', 'v'], 0).quorum, 3)
    assert.equal(viewOf(['x', 'y', 'z', 'w'], 0).quorum, 3)
    assert.equal(viewOf(['y', 'x']).view, viewOf(['x', 'y']).view)
  })

  it('lease messages are bounded', () => {
    assert.equal(leaseMessageSchema.safeParse(claim(0, 1)).success, true)
    assert.equal(leaseMessageSchema.safeParse({ ...claim(0, 1), extra: 1 }).success, false)
    assert.equal(leaseMessageSchema.safeParse({ ...claim(0, 0) }).success, false)
    assert.equal(leaseMessageSchema.safeParse({ t: 'grant', ds: 'default/agent', kind: 'unavailable', slot: 0, term: 1, to: 'short' }).success, false)
  })
})

describe('lease committees', () => {
  const voters = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${String(i).padStart(4, '0')}`.padEnd(43, 'x'))

  it('agents from 0.2.0 on know committees', () => {
    for (const v of ['0.1.0', '0.1.12', '0.0.3']) assert.equal(knowsCommittees(v), false, v)
    for (const v of ['0.2.0', '0.10.0', '1.0.0', 'test']) assert.equal(knowsCommittees(v), true, v)
  })

  it('a fleet within the committee size is its own committee', () => {
    const v = voters(DEFAULT_COMMITTEE)
    assert.deepEqual(committeeOf([...v].reverse(), 'default/a'), v)
    assert.deepEqual(committeeOf(['b', 'a', 'b'], 'default/a', 3), ['a', 'b'])
  })

  it('past it, k voters picked by hash, the same whatever order the set is listed in, and per DaemonSet', () => {
    const v = voters(200)
    const c = committeeOf(v, 'default/a')
    assert.equal(c.length, DEFAULT_COMMITTEE)
    assert.deepEqual(c, [...c].sort())
    assert.deepEqual(committeeOf([...v].reverse(), 'default/a'), c)
    const lowest = [...v].sort((x, y) => (h('default/a', x) < h('default/a', y) ? -1 : 1)).slice(0, DEFAULT_COMMITTEE).sort()
    assert.deepEqual(c, lowest, 'the k lowest SHA-256 of (ds, key id)')
    assert.notDeepEqual(committeeOf(v, 'default/b'), c, 'another DaemonSet, another committee')
  })

  it('one voter joining or leaving changes a committee by at most one member', () => {
    const v = voters(100)
    const c = committeeOf(v, 'default/a')
    for (const other of [v.slice(1), [...v, 'new'.padEnd(43, 'y')], v.filter((k) => k !== c[3])]) {
      const d = committeeOf(other, 'default/a')
      assert.ok(c.filter((k) => !d.includes(k)).length <= 1)
    }
  })

  it('the view hashes k only past k voters; its quorum is over the committee', () => {
    const small = voters(5)
    assert.equal(viewOf(small, 1, 9).view, viewOf(small, 1, 100).view, 'a fleet within k hashes as before committees')
    assert.equal(viewOf(small, 1, 9).quorum, 4)
    const big = voters(50)
    assert.notEqual(viewOf(big, 1, 9).view, viewOf(big, 1, 11).view, 'past k, agents with another k disagree')
    assert.equal(viewOf(big, 1, 9).quorum, 6)
    assert.equal(viewOf(big, 0, 9).quorum, 5)
  })

  it('a voter off the committee refuses; a refusal past rule 4 tells the slot\'s highest term', () => {
    const t = new SlotTable(TTL)
    assert.match((t.claim(A, claim(0, 3), 0, voter({ onCommittee: () => false })) as { reason: string }).reason, /^not on the committee of default\/agent$/)
    assert.equal(t.maxTerm('default/agent', 'unavailable', 0), 0, 'and learns nothing from it')
    assert.equal(t.claim(A, claim(0, 3), 0, voter()).grant, true)
    const r = (t.claim(B, claim(0, 2), 1, voter()) as { reason: string }).reason
    assert.match(r, / \[term 3\]$/)
    assert.equal(termSeenIn(r), 3)
    assert.equal(termSeenIn((t.claim(B, claim(0, 7), 1, voter()) as { reason: string }).reason), 7, 'a higher refused term is learned and told')
    assert.equal(termSeenIn('voter sets differ (membership is changing)'), undefined)
    assert.equal(termSeenIn('x [term 99999999999999999999]'), undefined, 'not a safe integer')
  })
})

function h(ds: string, k: string): string {
  return createHash('sha256').update(`${ds}\n${k}`).digest('hex')
}

// The fleet model (3,000 random fleets, partitions, loss, time jumps) drives the real
// Voter and Claimant objects: test/unit/agent/lease/fleet-model.test.ts.
