import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { leaseMessageSchema, SlotTable, viewOf, type ClaimMessage, type VoterView } from '../../../core/lease.js'

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
    assert.deepEqual(t.claim(B, claim(0, 2), 10 * TTL, voter()), { grant: true })
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
    assert.deepEqual(t.claim(C, claim(1, 1), 1, two), { grant: true })
  })

  it('votes survive a restart (load counts the grant as new)', () => {
    const t = new SlotTable(TTL)
    t.claim(A, claim(0, 3), 0, voter())
    const u = new SlotTable(TTL)
    u.load(t.all(), t.termsSnapshot(), 50_000)
    assert.equal(u.claim(B, claim(0, 4), 55_000, voter()).grant, false)
    assert.equal(u.maxTerm('default/agent', 'unavailable', 0), 3)
  })

  it('viewOf needs a strict majority', () => {
    assert.equal(viewOf(['x', 'y', 'z', 'w', 'v']).quorum, 3)
    assert.equal(viewOf(['x', 'y', 'z', 'w']).quorum, 3)
    assert.equal(viewOf(['y', 'x']).view, viewOf(['x', 'y']).view)
  })

  it('lease messages are bounded', () => {
    assert.equal(leaseMessageSchema.safeParse(claim(0, 1)).success, true)
    assert.equal(leaseMessageSchema.safeParse({ ...claim(0, 1), extra: 1 }).success, false)
    assert.equal(leaseMessageSchema.safeParse({ ...claim(0, 0) }).success, false)
    assert.equal(leaseMessageSchema.safeParse({ t: 'grant', ds: 'default/agent', kind: 'unavailable', slot: 0, term: 1, to: 'short' }).success, false)
  })
})

// The fleet model (3,000 random fleets, partitions, loss, time jumps) drives the real
// Voter and Claimant objects: test/unit/agent/lease/fleet-model.test.ts.
