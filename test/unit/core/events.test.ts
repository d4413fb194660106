import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventHistory, MAX_RECORD_EVENTS, podEventSchema } from '../../../core/events.js'

const ev = (reason: string, message = 'm') => ({ ds: 'default/a', type: 'Warning' as const, reason, message })

describe('event history', () => {
  it('a repeat counts up instead of adding a line; the record refreshes a count at most every refreshMs', () => {
    const h = new EventHistory(256, 10_000)
    h.add(ev('Unhealthy'), 1000)
    assert.deepEqual(h.published(1000).events.map((e) => e.count), [1])
    h.add(ev('Unhealthy'), 2000)
    const held = h.published(2000)
    assert.deepEqual(held.events.map((e) => e.count), [1], 'held back')
    assert.equal(held.refreshInMs, 9000)
    assert.deepEqual(h.published(11_000).events.map((e) => [e.count, e.first, e.last]), [[2, 1000, 2000]])
    assert.equal(h.all().length, 1)
  })

  it('a new event is published at once; the record carries the newest only; the history is bounded', () => {
    const h = new EventHistory(30)
    for (let i = 0; i < 40; i++) h.add(ev(`R${i}`), i)
    assert.equal(h.all().length, 30)
    const p = h.published(100).events
    assert.equal(p.length, MAX_RECORD_EVENTS)
    assert.equal(p.at(-1)?.reason, 'R39')
  })

  it('messages and reasons are bounded; a record event outside the bounds is refused at the border', () => {
    const h = new EventHistory()
    h.add(ev('X'.repeat(100), 'y'.repeat(5000)), 1)
    const e = h.all()[0]
    assert.equal(e?.reason.length, 64)
    assert.equal(e?.message.length, 300)
    assert.ok(podEventSchema.safeParse(e).success)
    assert.equal(podEventSchema.safeParse({ ...e, message: 'z'.repeat(301) }).success, false)
    assert.equal(podEventSchema.safeParse({ ...e, type: 'Fatal' }).success, false)
  })
})
