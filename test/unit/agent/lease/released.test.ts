import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Released } from '../../../../agent/lease/released.js'

describe('releases heard (ahead of the holders’ records)', () => {
  it('frees a reported hold of the same slot under the released term or an older one, not a later one', () => {
    const r = new Released()
    r.note('h1', 'default/a', { kind: 'unavailable', slot: 2, term: 10 }, 0)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 2, 10), true)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 2, 9), true)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 2, 11), false, 'a later term is a new hold')
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 3, 10), false, 'another slot')
    assert.equal(r.freed('h1', 'default/a', 'surge', 2, 10), false, 'another kind')
    assert.equal(r.freed('h2', 'default/a', 'unavailable', 2, 10), false, 'another holder')
    assert.equal(r.freed('h1', 'default/b', 'unavailable', 2, 10), false, 'another DaemonSet')
  })

  it('keeps the newest release per holder and DaemonSet', () => {
    const r = new Released()
    r.note('h1', 'default/a', { kind: 'unavailable', slot: 2, term: 10 }, 0)
    r.note('h1', 'default/a', { kind: 'unavailable', slot: 4, term: 9 }, 1)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 2, 10), true, 'an older release does not replace a newer one')
    r.note('h1', 'default/a', { kind: 'unavailable', slot: 4, term: 12 }, 2)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 4, 12), true)
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 2, 10), false)
  })

  it('forgets releases once old, and those of DaemonSets no longer kept', () => {
    const r = new Released()
    r.note('h1', 'default/a', { kind: 'unavailable', slot: 0, term: 1 }, 0)
    r.note('h2', 'default/a', { kind: 'unavailable', slot: 1, term: 1 }, 500)
    r.note('h3', 'default/gone', { kind: 'unavailable', slot: 0, term: 1 }, 500)
    r.prune(1000, 1000, (ds) => ds !== 'default/gone')
    assert.equal(r.freed('h1', 'default/a', 'unavailable', 0, 1), false, 'heard 1000 ms ago')
    assert.equal(r.freed('h2', 'default/a', 'unavailable', 1, 1), true)
    assert.equal(r.freed('h3', 'default/gone', 'unavailable', 0, 1), false, 'its DaemonSet is gone')
    r.prune(1500, 1000)
    assert.equal(r.freed('h2', 'default/a', 'unavailable', 1, 1), false)
  })
})
