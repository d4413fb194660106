// When a changed node record goes out (agent/membership/pacer.ts), on virtual time: at once,
// at the end of the spacing window, or, for notes only, a random part of notesSpreadMs later.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RecordPacer } from '../../../../agent/membership/pacer.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const SPACING = 200
const SPREAD = 2000

/** pacer returns a pacer whose publications are recorded (virtual ms) and acknowledged as the membership's beat does. */
function pacer(draw = 0.5): { clock: VirtualClock; p: RecordPacer; out: number[] } {
  const clock = new VirtualClock()
  const out: number[] = []
  const p: RecordPacer = new RecordPacer({
    clock,
    random: () => draw,
    spacingMs: SPACING,
    notesSpreadMs: SPREAD,
    publish: () => {
      out.push(clock.mono())
      p.published()
    },
  })
  return { clock, p, out }
}

describe('record pacer', () => {
  it('a change goes out at once, and another within the window at its end, once', async () => {
    const { clock, p, out } = pacer()
    p.changed()
    p.changed()
    p.changed()
    await clock.advance(SPACING)
    assert.deepEqual(out, [0, SPACING])
  })

  it('a change of notes only waits its random part of notesSpreadMs; another change brings it forward', async () => {
    const { clock, p, out } = pacer(0.5)
    await clock.advance(1000)
    p.changed(true)
    await clock.advance(SPREAD / 2 - 1)
    assert.deepEqual(out, [], 'held for half the spread')
    await clock.advance(1)
    assert.deepEqual(out, [1000 + SPREAD / 2])
    p.changed(true)
    await clock.advance(100)
    p.changed()
    await clock.advance(SPACING)
    // The notes were due at 3000 ms; the other change went out at the window's end, with them.
    assert.deepEqual(out, [2000, 2000 + SPACING])
    await clock.advance(SPREAD)
    assert.equal(out.length, 2, 'nothing held is left to repeat it')
  })

  it('notes are never published sooner than the spacing window, even when the draw is 0', async () => {
    const { clock, p, out } = pacer(0)
    p.changed()
    p.changed(true)
    await clock.advance(SPACING - 1)
    assert.deepEqual(out, [0])
    await clock.advance(1)
    assert.deepEqual(out, [0, SPACING])
  })

  it('stop drops what is held, and nothing goes out after it', async () => {
    const { clock, p, out } = pacer()
    p.changed()
    p.changed()
    p.stop()
    p.changed()
    await clock.advance(SPREAD)
    assert.deepEqual(out, [0])
  })
})
