import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PeerBudget, SYNC_PEER_BUDGET } from '../../../agent/store/sync-budget.js'

describe('anti-entropy peer budget', () => {
  const limits = { ...SYNC_PEER_BUDGET, exchanges: 3, bytes: 1000, maxPeers: 2 }

  it('a peer gets `exchanges` per interval, then is refused (logged once) until the interval ends; others are not affected', () => {
    const b = new PeerBudget(limits)
    for (let i = 0; i < 3; i++) assert.equal(b.admit('p', i), undefined)
    assert.deepEqual(b.admit('p', 10), { reason: '3 exchanges within 10 s (at most 3)', first: true })
    assert.equal(b.admit('p', 20)?.first, false)
    assert.equal(b.admit('q', 20), undefined)
    assert.equal(b.admit('p', limits.intervalMs), undefined)
  })

  it('a peer past its bytes is refused until the interval ends (an exchange under way finishes)', () => {
    const b = new PeerBudget(limits)
    assert.equal(b.admit('p', 0), undefined)
    b.spend('p', 1500)
    assert.match(b.admit('p', 1)?.reason ?? '', /^1500 bytes sent within 10 s \(at most 1000\)$/)
    assert.equal(b.admit('p', limits.intervalMs + 1), undefined)
  })

  it('peers tracked at once are bounded: a new peer is refused while the table is full of live intervals, and taken once they expire', () => {
    const b = new PeerBudget(limits)
    assert.equal(b.admit('a', 0), undefined)
    assert.equal(b.admit('b', 0), undefined)
    assert.match(b.admit('c', 5)?.reason ?? '', /2 peers already exchanged/)
    assert.equal(b.tracked, 2)
    assert.equal(b.admit('c', limits.intervalMs), undefined)
    assert.equal(b.tracked, 1)
  })
})
