import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Cooldown } from '../../../../agent/lease/cooldown.js'

describe('lease cooldown', () => {
  it('doubles the jitter with each failure in a row, never past the fallback, until a success', () => {
    const c = new Cooldown()
    c.failed('ds', 'doubled', 0, 100, 10_000)
    assert.equal(c.cooling('ds', 99), true)
    assert.equal(c.cooling('ds', 100), false)
    c.failed('ds', 'doubled', 1000, 100, 10_000)
    assert.equal(c.cooling('ds', 1199), true, 'twice the jitter')
    assert.equal(c.cooling('ds', 1200), false)
    c.failed('ds', 'doubled', 2000, 100, 2300)
    assert.equal(c.cooling('ds', 2299), true)
    assert.equal(c.cooling('ds', 2300), false, 'four times the jitter, cut at the fallback')
    c.succeeded('ds')
    c.failed('ds', 'doubled', 3000, 100, 10_000)
    assert.equal(c.cooling('ds', 3100), false, 'back to one jitter after a success')
  })

  it('cools one plain jitter without counting a failure, not at all for none, and opens at once', () => {
    const c = new Cooldown()
    c.failed('ds', 'doubled', 0, 100, 10_000)
    c.failed('ds', 'once', 200, 100, 10_000)
    assert.equal(c.cooling('ds', 299), true)
    assert.equal(c.cooling('ds', 300), false, 'a plain jitter, whatever the failures before')
    c.failed('ds', 'none', 400, 100, 10_000)
    assert.equal(c.cooling('ds', 400), false)
    c.failed('ds', 'doubled', 500, 100, 10_000)
    assert.equal(c.cooling('ds', 699), true, 'the yield was not counted: this is the second failure')
    c.open('ds')
    assert.equal(c.cooling('ds', 600), false)
    c.forget('ds')
    c.failed('ds', 'doubled', 1000, 100, 10_000)
    assert.equal(c.cooling('ds', 1100), false, 'forgotten: the first failure again')
  })
})
