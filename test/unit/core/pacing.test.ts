import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SlotTable, type ClaimMessage, type VoterView } from '../../../core/lease.js'
import { claimTurn, freeSlots, waitingReason, WAITING_FOR_A_SLOT } from '../../../core/pacing.js'

const SPACING = 800

describe('claimTurn', () => {
  const cases: { name: string; place: number; limit: number; free: number[]; want: ReturnType<typeof claimTurn> }[] = [
    { name: 'first in line, one free slot: claims it now', place: 0, limit: 1, free: [0], want: { now: true, slot: 0 } },
    { name: 'second in line, one slot: waits one round', place: 1, limit: 1, free: [0], want: { now: false, waitMs: 800, round: 1 } },
    { name: 'third in line, one slot, busy: waits three rounds', place: 2, limit: 1, free: [], want: { now: false, waitMs: 2400, round: 3 } },
    { name: 'ten slots free: the first ten in line claim at once, each its own slot', place: 9, limit: 10, free: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], want: { now: true, slot: 9 } },
    { name: 'ten slots free: the eleventh waits one round', place: 10, limit: 10, free: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], want: { now: false, waitMs: 800, round: 1 } },
    { name: 'ten slots free: the 25th (place 24) waits two rounds', place: 24, limit: 10, free: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], want: { now: false, waitMs: 1600, round: 2 } },
    { name: 'two of three slots busy: the first in line takes the free one', place: 0, limit: 3, free: [1], want: { now: true, slot: 1 } },
    { name: 'two of three slots busy: the second waits one round', place: 1, limit: 3, free: [1], want: { now: false, waitMs: 800, round: 1 } },
    { name: 'no slots at all: nothing to claim, looks again after one spacing', place: 0, limit: 0, free: [], want: { now: false, waitMs: 800, round: 1 } },
  ]
  for (const c of cases) it(c.name, () => assert.deepEqual(claimTurn(c.place, c.limit, c.free, SPACING), c.want))

  it('hosts of one round never pick the same slot', () => {
    for (let limit = 1; limit <= 12; limit++) {
      const free = freeSlots(limit, new Map([[0, 'x']]), 'self')
      const picked = Array.from({ length: 30 }, (_, place) => claimTurn(place, limit, free, SPACING)).flatMap((t) => (t.now ? [t.slot] : []))
      assert.equal(picked.length, free.length)
      assert.equal(new Set(picked).size, picked.length)
    }
  })

  it('a rollout of 99 hosts with 10 slots, one round at a time, takes 10 rounds', () => {
    let left = 99
    let rounds = 0
    while (left > 0) {
      const free = freeSlots(10, new Map(), 'self')
      const moving = Array.from({ length: left }, (_, place) => claimTurn(place, 10, free, SPACING)).filter((t) => t.now).length
      assert.equal(moving, Math.min(10, left))
      left -= moving
      rounds++
    }
    assert.equal(rounds, 10)
  })
})

describe('freeSlots', () => {
  it('slots held by others are not free; its own are', () => {
    assert.deepEqual(freeSlots(4, new Map([[0, 'a'], [2, 'self']]), 'self'), [1, 2, 3])
  })
})

describe('waitingReason', () => {
  const A = 'a'.repeat(43)
  const B = 'b'.repeat(43)
  const view = (over: Partial<VoterView> = {}): VoterView => ({ view: 'v1', revision: () => 'r2', limit: () => 2, unavailable: () => 0, ineligible: () => undefined, onCommittee: () => true, ...over })
  const claim = (slot: number, term: number): ClaimMessage => ({ t: 'claim', ds: 'default/agent', kind: 'unavailable', slot, term, revision: 'r2', view: 'v1' })
  const refusal = (v: ReturnType<SlotTable['claim']>): string => {
    assert.equal(v.grant, false)
    return (v as { reason: string }).reason
  }

  it("every voter's refusal that only means the slots are busy for now reads the same", () => {
    const t = new SlotTable(10_000)
    assert.equal(t.claim(A, claim(0, 1), 0, view()).grant, true)
    const reasons = [
      refusal(t.claim(B, claim(0, 2), 1, view())), // slot 0 held by A
      refusal(t.claim(B, claim(1, 1), 2, view({ unavailable: () => 1 }))), // A's slot and one host down: the budget of 2 is used
      refusal(t.claim(A, claim(1, 5), 3, view())), // A already holds slot 0 (the claim still teaches term 5)
      refusal(t.claim(B, claim(1, 5), 4, view())), // stale term 5
    ]
    assert.deepEqual(
      reasons.map((r) => r.replace(/[A-Za-z0-9_-]{43}/g, 'KEY')),
      ['slot 0 held by KEY (term 1) [term 2]', '2 host(s) already unavailable (maxUnavailable 2) [term 1]', 'already holds unavailable slot 0 [term 5]', 'stale term 5 (seen 5) [term 5]'],
    )
    for (const r of reasons) assert.equal(waitingReason(r), WAITING_FOR_A_SLOT, r)
  })

  it("the claimant's own reasons for waiting its turn read the same; what an operator acts on is kept, without counts", () => {
    for (const why of ['waiting for its turn', 'waiting for a majority of the fleet to grant an update slot', 'every unavailable slot is held (3 of 10)', 'yielded slot 2 to host-b, ahead in line']) assert.equal(waitingReason(why), WAITING_FOR_A_SLOT, why)
    assert.equal(waitingReason('no majority answered (2 of 4 needed)'), 'no majority answered')
    for (const why of ['voter sets differ (membership is changing)', 'no unavailable slots', 'the grant aged before the update began (fenced)', 'update slot released by the operator']) assert.equal(waitingReason(why), why)
  })
})
