import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { adoptOrphans, planNode, setAside, type DesiredPod, type ObservedContainer, type PlanOptions } from '../../../core/reconcile.js'

const opts = (o: Partial<PlanOptions> = {}): PlanOptions => ({ now: 100_000, startedAt: 0, sweepGraceMs: 30_000, deleted: new Set(), orphaned: new Set(), ...o })
const want = (o: Partial<DesiredPod> = {}): DesiredPod => ({ daemonSet: 'default.a', revision: 'r2', run: true, keep: true, containers: ['c'], selects: (l) => l.app === 'a', ...o })
const seen = (name: string, o: Partial<ObservedContainer> = {}): ObservedContainer => ({ id: `id-${name}`, name, daemonSet: 'default.a', revision: 'r2', podOwner: name, container: name.split('-')[0] ?? name, running: true, createdAt: 1000, labels: { app: 'a' }, ...o })

describe('planNode', () => {
  it('starts a missing copy', () => assert.deepEqual(planNode([want()], [], opts()), { start: ['default.a'], remove: [], outdated: [] }))

  it('keeps one running copy of the current revision', () => assert.deepEqual(planNode([want()], [seen('c-r2')], opts()), { start: [], remove: [], outdated: [] }))

  it('removes extras, keeping the current revision', () => {
    const p = planNode([want()], [seen('c-r1', { revision: 'r1', createdAt: 1 }), seen('c-r2')], opts())
    assert.deepEqual(p.remove.map((r) => r.name), ['c-r1'])
    assert.deepEqual(p.start, [])
  })

  it('keeps the oldest copy of an older revision and marks it outdated', () => {
    const p = planNode([want()], [seen('old-b', { revision: 'r1', createdAt: 5 }), seen('old-a', { revision: 'r0', createdAt: 2 })], opts())
    assert.deepEqual(p.remove.map((r) => r.name), ['old-b'])
    assert.deepEqual(p.outdated, ['default.a'])
  })

  it('completes a pod with a missing container', () => {
    const p = planNode([want({ containers: ['c', 'd'] })], [seen('c-r2')], opts())
    assert.deepEqual(p.start, ['default.a'])
  })

  it('removes copies where the node no longer matches, keeps them under a NoSchedule taint', () => {
    assert.deepEqual(planNode([want({ run: false, keep: false })], [seen('c-r2')], opts()).remove.map((r) => r.reason), ['this node no longer matches the DaemonSet'])
    assert.deepEqual(planNode([want({ run: false, keep: true })], [seen('c-r2')], opts()).remove, [])
    assert.deepEqual(planNode([want({ run: false, keep: true })], [], opts()).start, [], 'no new copy under NoSchedule')
  })

  it('removes copies of deleted DaemonSets at once, unknown ones only after the grace period, orphans never', () => {
    const c = [seen('x', { daemonSet: 'default.gone' })]
    assert.equal(planNode([], c, opts({ deleted: new Set(['default.gone']), now: 10 })).remove.length, 1)
    assert.equal(planNode([], c, opts({ now: 10_000 })).remove.length, 0)
    assert.equal(planNode([], c, opts({ now: 40_000 })).remove.length, 1)
    assert.equal(planNode([], c, opts({ orphaned: new Set(['default.gone']), deleted: new Set(['default.gone']) })).remove.length, 0)
  })

  it('a new DaemonSet whose selector matches orphaned copies adopts them without touching them', () => {
    const orphan = seen('old-pod', { daemonSet: 'default.old', revision: 'r0' })
    const p = planNode([want()], [orphan], opts({ orphaned: new Set(['default.old']), deleted: new Set() }))
    assert.deepEqual(p, { start: [], remove: [], outdated: ['default.a'] })
    const other = seen('old-pod', { daemonSet: 'default.old', revision: 'r0', labels: { app: 'b' } })
    assert.deepEqual(planNode([want()], [other], opts({ orphaned: new Set(['default.old']) })), { start: ['default.a'], remove: [], outdated: [] })
  })

  it('an adopted pod of the same template is complete: no second copy', () => {
    const orphan = seen('main-r2', { daemonSet: 'default.old', container: 'c' })
    assert.deepEqual(planNode([want()], [orphan], opts({ orphaned: new Set(['default.old']) })), { start: [], remove: [], outdated: [] })
  })
})

describe('setAside: a pod created ahead of its update is no copy while the old one runs', () => {
  const current = new Map([['default.a', 'r2']])
  const old = seen('c-r1', { revision: 'r1', createdAt: 1 })
  const prepared = seen('c-r2', { running: false, neverStarted: true })
  const plan = (observed: ObservedContainer[]) => planNode([want()], setAside(observed, current), opts())

  it('beside the old copy it is left out: the old copy stays, outdated (the rollout moves it), and nothing is removed or started', () => {
    assert.deepEqual(setAside([old, prepared], current), [old])
    assert.deepEqual(plan([old, prepared]), { start: [], remove: [], outdated: ['default.a'] })
  })

  it('once the old copy stopped it is the copy: started, and the old one removed (an update cut short, or an old copy that failed)', () => {
    const stopped = { ...old, running: false }
    assert.deepEqual(setAside([stopped, prepared], current), [stopped, prepared])
    assert.deepEqual(plan([stopped, prepared]), { start: ['default.a'], remove: [{ id: 'id-c-r1', name: 'c-r1', daemonSet: 'default.a', reason: 'an extra copy' }], outdated: [] })
  })

  it('all of a pod\'s containers must be unstarted; one that ran makes it a copy like any other', () => {
    const c2 = seen('d-r2', { podOwner: 'c-r2', container: 'd', running: false })
    assert.deepEqual(setAside([old, prepared, c2], current).map((c) => c.name), ['c-r1', 'c-r2', 'd-r2'])
  })

  it('beside an orphan its DaemonSet adopted, which runs, it is left out: the adopted copy stays, outdated', () => {
    const orphan = seen('old-pod', { daemonSet: 'default.old', revision: 'r0' })
    const orphaned = new Set(['default.old'])
    const observed = [orphan, prepared]
    const kept = setAside(observed, current, adoptOrphans([want()], observed, orphaned))
    assert.deepEqual(kept, [orphan])
    assert.deepEqual(planNode([want()], kept, opts({ orphaned })), { start: [], remove: [], outdated: ['default.a'] })
  })

  it('alone it is a pod like any other: started (a start cut short)', () => {
    assert.deepEqual(setAside([prepared], current), [prepared])
    assert.deepEqual(plan([prepared]), { start: ['default.a'], remove: [], outdated: [] })
  })

  it('of a revision no longer current it is an extra copy, removed', () => {
    const stale = seen('c-r3', { revision: 'r3', running: false, neverStarted: true, createdAt: 5 })
    const p = plan([old, stale])
    assert.deepEqual(p.remove.map((r) => r.name), ['c-r3'])
    assert.deepEqual(p.outdated, ['default.a'])
  })

  it('of a DaemonSet deleted or no longer wanted it is removed with the old copy', () => {
    const gone = planNode([], setAside([old, prepared], new Map()), opts({ deleted: new Set(['default.a']) }))
    assert.deepEqual(gone.remove.map((r) => r.name).sort(), ['c-r1', 'c-r2'])
    const unmatched = planNode([want({ run: false, keep: false })], setAside([old, prepared], current), opts())
    assert.deepEqual(unmatched.remove.map((r) => r.name), ['c-r1'])
    // The next pass, with the old copy gone, removes it too.
    assert.deepEqual(planNode([want({ run: false, keep: false })], setAside([prepared], current), opts()).remove.map((r) => r.name), ['c-r2'])
  })
})
