import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { claimTurn, freeSlots } from '../../../core/pacing.js'

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
