import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { ClockDriftError, HybridClock, compareTimestamps, decodeTimestamp, encodeTimestamp, type Timestamp } from '../../../core/hlc.js'

describe('hybrid logical clock', () => {
  it('never goes backwards, whatever the physical clock and the remote timestamps do (property)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), phys: fc.integer({ min: 0, max: 1e6 }) }),
      fc.record({ kind: fc.constant('recv' as const), phys: fc.integer({ min: 0, max: 1e6 }), wall: fc.integer({ min: 0, max: 1e6 }), logical: fc.integer({ min: 0, max: 1000 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        let phys = 0
        const clock = new HybridClock(() => phys)
        let last: Timestamp = { wall: -1, logical: 0 }
        for (const s of steps) {
          phys = s.phys
          const ts = s.kind === 'now' ? clock.now() : clock.update({ wall: s.wall, logical: s.logical })
          assert.ok(compareTimestamps(ts, last) > 0, `${JSON.stringify(ts)} after ${JSON.stringify(last)}`)
          if (s.kind === 'recv') assert.ok(compareTimestamps(ts, { wall: s.wall, logical: s.logical }) > 0, 'receipt after send')
          assert.ok(ts.wall >= s.phys, 'follows physical time')
          last = ts
        }
      }),
    )
  })

  it('follows physical time when it moves forward', () => {
    let phys = 1000
    const clock = new HybridClock(() => phys)
    assert.deepEqual(clock.now(), { wall: 1000, logical: 0 })
    assert.deepEqual(clock.now(), { wall: 1000, logical: 1 })
    phys = 2000
    assert.deepEqual(clock.now(), { wall: 2000, logical: 0 })
  })

  it('refuses a remote timestamp beyond the maximum offset and stays unchanged', () => {
    const clock = new HybridClock(() => 1000, 500)
    const before = clock.now()
    assert.throws(() => clock.update({ wall: 1501, logical: 0 }), (e: unknown) => e instanceof ClockDriftError && e.name === 'ClockDriftError')
    assert.deepEqual(clock.peek(), before)
    assert.deepEqual(clock.update({ wall: 1500, logical: 3 }), { wall: 1500, logical: 4 })
  })

  it('encoded timestamps sort like timestamps and round-trip (property)', () => {
    const ts = fc.record({ wall: fc.integer({ min: 0, max: 1e14 }), logical: fc.integer({ min: 0, max: 999_999 }) })
    fc.assert(
      fc.property(ts, ts, (a, b) => {
        assert.deepEqual(decodeTimestamp(encodeTimestamp(a)), { wall: a.wall, logical: a.logical })
        const lex = encodeTimestamp(a) < encodeTimestamp(b) ? -1 : encodeTimestamp(a) > encodeTimestamp(b) ? 1 : 0
        assert.equal(lex, Math.sign(compareTimestamps(a, b)))
      }),
    )
    assert.equal(decodeTimestamp('nonsense'), undefined)
  })
})
