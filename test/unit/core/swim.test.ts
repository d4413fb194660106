import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Awareness, ProbeOrder, RandomSet, expectedConfirmations, shuffled, suspicionBounds, suspicionTimeout, transition, type SwimEvent, type SwimState } from '../../../core/swim.js'
import { seeded } from '../../helpers/seeded.js'


const st = (status: SwimState['status'], incarnation: number, startedAt = 100): SwimState => ({ status, incarnation, startedAt })
const alive = (incarnation: number, startedAt = 100): SwimEvent => ({ kind: 'alive', incarnation, startedAt })
const suspect = (incarnation: number): SwimEvent => ({ kind: 'suspect', incarnation })
const failed = (incarnation: number): SwimEvent => ({ kind: 'failed', incarnation })

describe('swim transitions', () => {
  const cases: [string, SwimState, SwimEvent, SwimState | undefined][] = [
    ['alive(i) overrides suspect(j) when i > j', st('suspect', 1), alive(2), st('alive', 2)],
    ['alive(i) does not override suspect(j) when i == j', st('suspect', 1), alive(1), undefined],
    ['alive(i) does not override suspect(j) when i < j', st('suspect', 3), alive(2), undefined],
    ['alive(i) overrides failed(j) when i > j', st('failed', 1), alive(2), st('alive', 2)],
    ['failed is final for its incarnation: alive(j) does not undo failed(j)', st('failed', 2), alive(2), undefined],
    ['alive(i) over alive(j) only raises the incarnation when i > j', st('alive', 1), alive(4), st('alive', 4)],
    ['alive(i) equal to what we hold changes nothing', st('alive', 1), alive(1), undefined],
    ['suspect(i) overrides alive(j) when i == j', st('alive', 1), suspect(1), st('suspect', 1)],
    ['suspect(i) overrides alive(j) when i > j', st('alive', 1), suspect(2), st('suspect', 2)],
    ['suspect(i) does not override alive(j) when i < j (already refuted)', st('alive', 2), suspect(1), undefined],
    ['suspect(i) of the same incarnation is a confirmation, not a change', st('suspect', 1), suspect(1), undefined],
    ['suspect(i) of a later incarnation is a new suspicion', st('suspect', 1), suspect(2), st('suspect', 2)],
    ['suspect(j) does not override failed(j)', st('failed', 1), suspect(1), undefined],
    ['suspect(i) overrides failed(j) when i > j (a refutation we missed)', st('failed', 1), suspect(2), st('suspect', 2)],
    ['failed(i) overrides alive(j) when i == j', st('alive', 1), failed(1), st('failed', 1)],
    ['failed(i) overrides suspect(j) when i == j', st('suspect', 1), failed(1), st('failed', 1)],
    ['failed(i) does not override alive(j) when i < j', st('alive', 2), failed(1), undefined],
    ['failed(i) of the same incarnation twice changes nothing', st('failed', 1), failed(1), undefined],
    ['a record from a later start is a new life, whatever its incarnation', st('failed', 7, 100), alive(0, 200), st('alive', 0, 200)],
    ['a record from an earlier start is stale', st('alive', 0, 200), alive(9, 100), undefined],
  ]
  for (const [name, cur, ev, want] of cases) {
    it(name, () => assert.deepEqual(transition(cur, ev), want))
  }
})

describe('suspicion timeout', () => {
  it('grows with log10 of the fleet, from the floor at 10 members or fewer', () => {
    const rows = [1, 5, 10, 30, 1000, 10_000].map((n) => [n, suspicionBounds(n, 1000, 4).minMs])
    assert.deepEqual(rows, [
      [1, 1000],
      [5, 1000],
      [10, 1000],
      [30, 1477],
      [1000, 3000],
      [10_000, 4000],
    ])
    assert.deepEqual(suspicionBounds(30, 1000, 4), { minMs: 1477, maxMs: 5908 })
  })

  it('shrinks from max to min as independent confirmations arrive (Lifeguard)', () => {
    const b = { minMs: 1000, maxMs: 4000 }
    const rows = [0, 1, 2, 3, 4].map((c) => suspicionTimeout(b, 3, c))
    assert.deepEqual(rows, [4000, 2500, 1622, 1000, 1000])
  })

  it('is the minimum when no confirmation can come', () => {
    assert.equal(suspicionTimeout({ minMs: 1000, maxMs: 4000 }, 0, 0), 1000)
  })

  it('expects at most N - 2 confirmations', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 50].map((n) => expectedConfirmations(3, n)), [0, 0, 1, 2, 3, 3])
  })

  it('the integration test settings: 5 agents, a 3 s floor, all four others suspecting: 3 s', () => {
    const b = suspicionBounds(5, 3000, 4)
    assert.equal(suspicionTimeout(b, expectedConfirmations(3, 5), 3), 3000)
  })
})

describe('awareness', () => {
  it('stays within 0 and max - 1 and scales timeouts by score + 1', () => {
    const a = new Awareness(8)
    a.apply(-1)
    assert.equal(a.health(), 0)
    assert.equal(a.scale(200), 200)
    a.apply(3)
    assert.equal(a.scale(200), 800)
    a.apply(100)
    assert.equal(a.health(), 7)
  })
})

describe('random choices', () => {
  it('RandomSet adds, deletes and samples distinct members that pass the filter', () => {
    const s = new RandomSet<string>()
    for (const x of ['a', 'b', 'c', 'd', 'e']) s.add(x)
    s.add('a')
    s.delete('c')
    s.delete('zz')
    assert.equal(s.size, 4)
    assert.deepEqual([...s.values()].sort(), ['a', 'b', 'd', 'e'])
    const r = seeded(1)
    for (let i = 0; i < 50; i++) {
      const got = s.sample(3, r, (x) => x !== 'b')
      assert.equal(new Set(got).size, got.length, 'distinct')
      assert.ok(!got.includes('b'))
      assert.ok(got.length <= 3)
    }
    assert.deepEqual(s.sample(3, r, () => false), [])
  })

  it('ProbeOrder probes every member once per round, in a new order each round', () => {
    const members = Array.from({ length: 20 }, (_, i) => `m${i}`)
    const o = new ProbeOrder(seeded(7))
    const rounds: string[][] = []
    for (let r = 0; r < 3; r++) rounds.push(Array.from({ length: 20 }, () => o.next(members, () => true) as string))
    for (const round of rounds) assert.deepEqual([...round].sort(), [...members].sort())
    assert.notDeepEqual(rounds[0], rounds[1])
  })

  it('ProbeOrder skips members that are gone and takes new ones in this round', () => {
    const o = new ProbeOrder(seeded(3))
    o.next(['a', 'b', 'c'], () => true)
    o.add('d')
    const rest = Array.from({ length: 3 }, () => o.next(['a', 'c', 'd'], (id) => id !== 'b'))
    assert.ok(rest.includes('d'), 'the newcomer is probed in the current round')
    assert.ok(!rest.includes('b'), 'a member that is gone is skipped')
    assert.equal(new ProbeOrder(seeded(1)).next([], () => true), undefined)
  })

  it('shuffled is a permutation', () => {
    assert.deepEqual(shuffled([1, 2, 3, 4, 5], seeded(9)).sort(), [1, 2, 3, 4, 5])
  })
})
