import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TermBook } from '../../../../agent/lease/terms.js'
import { FreeSince } from '../../../../agent/lease/free-since.js'
import { othersHolds } from '../../../../core/pacing.js'

const DS = 'default/agent'
const WALL = 1_700_000_000_000

describe('a claimant term book', () => {
  it('asks one above the highest term it knows, at least its clock in seconds', () => {
    const t = new TermBook()
    assert.equal(t.next(DS, 'unavailable', 0, 0, [], WALL), 1_700_000_000, 'nothing known: the clock')
    assert.equal(t.next(DS, 'unavailable', 0, 2e9, [], WALL), 2e9 + 1, 'its own voter saw higher')
    assert.equal(t.next(DS, 'unavailable', 0, 0, [{ slot: 0, term: 3e9 }, { slot: 1, term: 4e9 }], WALL), 3e9 + 1, "that slot's reported hold only")
    t.note(DS, 'unavailable', 0, 5e9)
    assert.equal(t.next(DS, 'unavailable', 0, 0, [], WALL), 5e9 + 1)
    assert.equal(t.next(DS, 'surge', 0, 0, [], WALL), 1_700_000_000, 'per kind')
    t.forget(DS)
    assert.equal(t.next(DS, 'unavailable', 0, 0, [], WALL), 1_700_000_000)
  })

  it("a term a record reports far past any voter's bound is not believed", () => {
    const t = new TermBook()
    assert.equal(t.next(DS, 'unavailable', 0, 0, [{ slot: 0, term: 2 ** 52 }], WALL), 1_700_000_000)
    assert.equal(t.next(DS, 'unavailable', 0, 0, [{ slot: 0, term: 1_700_000_000 + 2 ** 30 }], WALL), 1_700_000_001 + 2 ** 30)
  })

  it('a clock far ahead moves a term at most 2^31 past what it knows', () => {
    assert.equal(new TermBook().next(DS, 'unavailable', 0, 7, [], 2 ** 60), 7 + 2 ** 31)
  })

  it('learns the (f+1)-th highest term refusals told', () => {
    const t = new TermBook()
    t.learn(DS, 'unavailable', 0, [10, 2 ** 50, 12], 1)
    assert.equal(t.next(DS, 'unavailable', 0, 0, [], 0), 13)
    t.learn(DS, 'unavailable', 1, [2 ** 50], 1)
    assert.equal(t.next(DS, 'unavailable', 1, 0, [], 0), 1, 'one refusal cannot teach past f = 1')
  })
})

describe('free slots seen since', () => {
  it('a slot counts as idle once free for the spacing; one taken and freed again starts over', () => {
    const f = new FreeSince()
    assert.deepEqual(f.idle(DS, 'unavailable', [0, 1], 0, 800), [])
    assert.deepEqual(f.idle(DS, 'unavailable', [0, 1], 800, 800), [0, 1])
    assert.deepEqual(f.idle(DS, 'unavailable', [1], 900, 800), [1])
    assert.deepEqual(f.idle(DS, 'unavailable', [0, 1], 1000, 800), [1])
    assert.equal(f.at(DS, 'unavailable', 0), 1000)
    f.forget(DS)
    assert.equal(f.at(DS, 'unavailable', 1), undefined)
  })
})

describe('othersHolds', () => {
  it("this voter's holds first, then those records report; one holder a slot; never this host", () => {
    const own = [{ holder: 'b', slot: 0 }, { holder: 'me', slot: 1 }]
    const reported = [{ holder: 'c', slot: 0 }, { holder: 'd', slot: 2 }, { holder: 'me', slot: 3 }]
    assert.deepEqual(othersHolds(own, reported, 'me'), [{ holder: 'b', slot: 0 }, { holder: 'd', slot: 2 }])
  })
})
