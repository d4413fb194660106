import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Throttle } from '../../../agent/log.js'

describe('log throttle', () => {
  it('lets `burst` lines through per interval, holds the rest, and says how many it held when the next passes', () => {
    const t = new Throttle(1000, 2)
    assert.equal(t.pass(0), 0)
    assert.equal(t.pass(10), 0)
    assert.equal(t.pass(20), undefined)
    assert.equal(t.pass(999), undefined)
    assert.equal(t.pass(1000), 2)
    assert.equal(t.pass(1001), 0)
  })
})
