import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { historySchema, recordRevision, undoTarget, withTemplate } from '../../../core/history.js'
import { revisionOf } from '../../../core/revision.js'
import { ds } from '../../helpers/fixtures.js'

const v = (image: string, extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}) => ds({ containers: [{ name: 'main', image }] }, extra)

describe('revision history', () => {
  it('numbers each new template; the same template again is no new revision', () => {
    let h = recordRevision(undefined, v('a:1'), 1)
    h = recordRevision(h, v('a:2'), 2)
    h = recordRevision(h, v('a:2'), 3)
    assert.deepEqual(h.revisions.map((e) => [e.revision, e.hash]), [[1, revisionOf(v('a:1'))], [2, revisionOf(v('a:2'))]])
    assert.equal(historySchema.safeParse(h).success, true)
  })

  it('an older template written again moves to a new number (undo), as Kubernetes renumbers', () => {
    let h = recordRevision(undefined, v('a:1'), 1)
    h = recordRevision(h, v('a:2'), 2)
    h = recordRevision(h, v('a:1'), 3)
    assert.deepEqual(h.revisions.map((e) => [e.revision, e.hash]), [[2, revisionOf(v('a:2'))], [3, revisionOf(v('a:1'))]])
  })

  it('keeps revisionHistoryLimit old revisions besides the current one', () => {
    let h = recordRevision(undefined, v('a:0', { spec: { revisionHistoryLimit: 2 } }), 0)
    for (let i = 1; i <= 5; i++) h = recordRevision(h, v(`a:${i}`, { spec: { revisionHistoryLimit: 2 } }), i)
    assert.deepEqual(h.revisions.map((e) => e.revision), [4, 5, 6])
  })

  it('records the change-cause annotation', () => {
    const h = recordRevision(undefined, v('a:1', { metadata: { annotations: { 'kubernetes.io/change-cause': 'bump' } } }), 1)
    assert.equal(h.revisions[0]?.changeCause, 'bump')
  })

  it('undo picks the previous template, or the one asked for; none is an error', () => {
    let h = recordRevision(undefined, v('a:1'), 1)
    h = recordRevision(h, v('a:2'), 2)
    h = recordRevision(h, v('a:3'), 3)
    assert.equal(undoTarget(h, v('a:3'), 0).entry?.revision, 2)
    assert.equal(undoTarget(h, v('a:3'), 1).entry?.revision, 1)
    assert.match(undoTarget(h, v('a:3'), 7).error ?? '', /unable to find specified revision 7/)
    assert.match(undoTarget(recordRevision(undefined, v('a:1'), 1), v('a:1'), 0).error ?? '', /no rollout history/)
  })

  it('withTemplate restores the template exactly (same revision hash) and refuses a tampered entry', () => {
    const h = recordRevision(undefined, v('a:1'), 1)
    const entry = h.revisions[0]
    assert.ok(entry !== undefined)
    assert.equal(revisionOf(withTemplate(v('a:9'), entry)), revisionOf(v('a:1')))
    assert.throws(() => withTemplate(v('a:9'), { ...entry, hash: 'bbbbbbbbbb' }), /does not match its hash/)
  })
})
