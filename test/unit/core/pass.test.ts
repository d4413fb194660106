import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { podPlan } from '../../../core/container-spec.js'
import { shouldRun } from '../../../core/eligibility.js'
import { refOf } from '../../../core/keyspace.js'
import { planPass, readyCopies, stepsByCopy, type Action, type PassInput, type SlotAnswer, type Wanted } from '../../../core/pass.js'
import type { ObservedContainer } from '../../../core/reconcile.js'
import { compileSelector } from '../../../core/selector.js'
import type { DaemonSet } from '../../../core/types.js'
import { ds, node } from '../../helpers/fixtures.js'

const HOST = node('host-1')

const rolling = (strategy: Record<string, unknown> = { maxUnavailable: 1 }, minReadySeconds = 0, image = 'busybox:1.36'): DaemonSet =>
  ds({ containers: [{ name: 'main', image }] }, { spec: { minReadySeconds, updateStrategy: { type: 'RollingUpdate', rollingUpdate: strategy } } })

const wanted = (d: DaemonSet): Wanted => {
  const v = shouldRun(HOST, d)
  const plan = podPlan(d, HOST)
  const selector = compileSelector(d.spec.selector, 'spec.selector').selector
  return { ref: refOf(d), ds: d, plan, revision: plan.revision, run: v.shouldRun, keep: v.shouldContinueRunning, selects: (l) => selector.matches(l) }
}

/** copy is a running container of DaemonSet `agent` at `revision`. */
const copy = (revision: string, o: Partial<ObservedContainer> = {}): ObservedContainer => ({
  id: `id-${revision}`,
  name: `c-${revision}`,
  daemonSet: 'default.agent',
  revision,
  container: 'main',
  podOwner: `c-${revision}`,
  running: true,
  createdAt: 1000,
  labels: { app: 'agent' },
  ...o,
})

const input = (o: Partial<PassInput> = {}): PassInput => ({
  now: 100_000,
  startedAt: 0,
  wallNow: 1_700_000_000_000,
  sweepGraceMs: 30_000,
  pollMs: 1000,
  wanted: [],
  deleted: new Set(),
  orphaned: new Set(),
  containers: [],
  states: new Map(),
  probes: new Map(),
  crashes: new Map(),
  owners: new Map(),
  initializing: new Map(),
  restarts: new Map(),
  readySince: new Map(),
  failures: new Map(),
  pulled: new Set(),
  prepared: new Set(),
  slots: new Map(),
  deleteRequests: new Map(),
  reported: {},
  ...o,
})

const kinds = (actions: Action[]): string[] => actions.map((a) => a.do)

describe('planPass: placement', () => {
  it('starts a missing copy and reports nothing yet', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w] }))
    assert.deepEqual(kinds(p.actions), ['start'])
    assert.deepEqual(p.report, {})
  })

  it('keeps a running current copy and reports it ready and available', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w], containers: [copy(w.revision)], readySince: new Map([[`default/agent@${w.revision}`, { mono: 0, wall: 5 }]]) }))
    assert.deepEqual(p.actions, [])
    assert.equal(p.report['default/agent']?.ready, true)
    assert.equal(p.report['default/agent']?.available, true)
    assert.equal(p.report['default/agent']?.phase, 'Running')
  })

  it('a failure being backed off starts nothing and is reported with its error', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w], failures: new Map([['default.agent', { error: 'ErrImagePull: nope', until: 200_000, delay: 10_000 }]]) }))
    assert.deepEqual(p.actions, [])
    assert.equal(p.report['default/agent']?.lastError, 'ErrImagePull: nope')
    assert.equal(p.report['default/agent']?.phase, 'Pending')
  })

  it('copies of a deleted DaemonSet are removed', () => {
    const p = planPass(input({ containers: [copy('r1')], deleted: new Set(['default.agent']) }))
    assert.deepEqual(kinds(p.actions), ['remove'])
  })

  it('a delete request for the reported copy removes it, then a fresh copy starts', () => {
    const w = wanted(rolling())
    const p = planPass(input({
      wanted: [w],
      containers: [copy(w.revision)],
      reported: { 'default/agent': { revision: w.revision, phase: 'Running', ready: true, restarts: 0, since: 50 } },
      deleteRequests: new Map([['default/agent', { id: 'pods/default/agent/host-1@1', revision: w.revision, since: 60 }]]),
    }))
    assert.deepEqual(kinds(p.actions), ['delete-pod', 'start'])
  })

  it('a delete request for an older copy than the one running changes nothing', () => {
    const w = wanted(rolling())
    const p = planPass(input({
      wanted: [w],
      containers: [copy(w.revision)],
      reported: { 'default/agent': { revision: w.revision, phase: 'Running', ready: true, restarts: 0, since: 70 } },
      deleteRequests: new Map([['default/agent', { id: 'x', revision: w.revision, since: 60 }]]),
    }))
    assert.deepEqual(p.actions, [])
  })
})

describe('planPass: rolling update of this host', () => {
  it('an outdated ready copy pulls the new images and claims a slot, waiting for its turn', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w], containers: [copy('r-old')] }))
    assert.deepEqual(kinds(p.actions), ['pull', 'claim'])
    assert.deepEqual(p.actions[1], { do: 'claim', ref: w.ref, revision: w.revision, kind: 'unavailable' })
    assert.equal(p.waiting.get('default/agent'), 'waiting for an update slot')
    assert.equal(p.report['default/agent']?.waiting, 'waiting for an update slot')
    assert.equal(p.report['default/agent']?.revision, 'r-old')
    assert.equal(p.recheckMs, 1000)
  })

  it('once pulled, a waiting claim reports why the lease waits, without the detail that changes with every hand-over', () => {
    const w = wanted(rolling())
    const report = (why: string) => {
      const slots = new Map<string, SlotAnswer>([['default/agent', { phase: 'waiting', why }]])
      const p = planPass(input({ wanted: [w], containers: [copy('r-old')], pulled: new Set([`default.agent@${w.revision}`]), prepared: new Set([`default.agent@${w.revision}`]), slots }))
      assert.deepEqual(kinds(p.actions), ['claim'])
      return p.report['default/agent']?.waiting
    }
    assert.equal(report('every unavailable slot is held (1 of 1)'), 'waiting for an update slot')
    assert.equal(report('no majority answered (2 of 4 needed)'), 'no majority answered')
    assert.equal(report('voter sets differ (membership is changing)'), 'voter sets differ (membership is changing)')
  })

  it('waiting for its turn, the host creates its new pod ahead, once; not while its claim awaits an answer, nor before the pull', () => {
    const w = wanted(rolling())
    const key = `default.agent@${w.revision}`
    const plan = (slot: SlotAnswer, o: Partial<PassInput> = {}) => kinds(planPass(input({ wanted: [w], containers: [copy('r-old')], pulled: new Set([key]), slots: new Map([['default/agent', slot]]), ...o })).actions)
    assert.deepEqual(plan({ phase: 'waiting', why: 'waiting for its turn' }), ['claim', 'prepare'])
    assert.deepEqual(plan({ phase: 'waiting', why: 'every unavailable slot is held (1 of 1)' }, { prepared: new Set([key]) }), ['claim'])
    assert.deepEqual(plan({ phase: 'waiting', why: 'waiting for a majority of the fleet to grant an update slot', claiming: true }), ['claim'])
    assert.deepEqual(plan({ phase: 'idle' }), ['claim'])
    assert.deepEqual(plan({ phase: 'waiting', why: 'waiting for its turn' }, { pulled: new Set() }), ['pull', 'claim'])
  })

  it('a granted slot updates the copy under it: the old copy stops, the new one starts', () => {
    const w = wanted(rolling())
    const slots = new Map<string, SlotAnswer>([['default/agent', { phase: 'granted', term: 3, kind: 'unavailable', slot: 0 }]])
    const p = planPass(input({ wanted: [w], containers: [copy('r-old')], pulled: new Set([`default.agent@${w.revision}`]), slots }))
    assert.equal(p.actions.length, 1)
    const u = p.actions[0] as Extract<Action, { do: 'update' }>
    assert.equal(u.do, 'update')
    assert.equal(u.kind, 'unavailable')
    assert.equal(u.term, 3)
    assert.deepEqual(u.stop.map((r) => r.id), ['id-r-old'])
    assert.deepEqual(p.report['default/agent']?.updateSlot, { kind: 'unavailable', slot: 0, term: 3 }, 'the record says which slot it holds (hosts off the committee see busy slots so)')
  })

  it('with maxSurge the update claims a surge slot and keeps the old copy running', () => {
    const w = wanted(rolling({ maxUnavailable: 0, maxSurge: 1 }))
    const slots = new Map<string, SlotAnswer>([['default/agent', { phase: 'granted', term: 1, kind: 'unavailable', slot: 0 }]])
    const p = planPass(input({ wanted: [w], containers: [copy('r-old')], pulled: new Set([`default.agent@${w.revision}`]), slots }))
    const u = p.actions[0] as Extract<Action, { do: 'update' }>
    assert.equal(u.kind, 'surge')
    assert.deepEqual(u.stop, [])
  })

  it('while surging, the old copy stays until the new one is available, then goes', () => {
    const w = wanted(rolling({ maxUnavailable: 0, maxSurge: 1 }, 2))
    const both = [copy('r-old', { createdAt: 1 }), copy(w.revision, { createdAt: 2 })]
    const slots = new Map<string, SlotAnswer>([['default/agent', { phase: 'acting', term: 1, kind: 'unavailable', slot: 0 }]])
    const key = `default/agent@${w.revision}`
    const young = planPass(input({ wanted: [w], containers: both, slots, readySince: new Map([[key, { mono: 99_000, wall: 1 }]]) }))
    assert.deepEqual(young.actions, [], 'ready for 1 s of 2: the old copy stays, the slot is held')
    assert.equal(young.recheckMs, 1000)
    assert.equal(young.report['default/agent']?.revision, w.revision, 'the new copy is the one reported')
    const old = planPass(input({ wanted: [w], containers: both, slots, readySince: new Map([[key, { mono: 97_000, wall: 1 }]]) }))
    assert.deepEqual(kinds(old.actions), ['remove'])
    assert.equal((old.actions[0] as Extract<Action, { do: 'remove' }>).removals[0]?.id, 'id-r-old')
  })

  it('an old copy that is not ready is replaced at once, without a slot', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w], containers: [copy('r-old', { running: false })], pulled: new Set([`default.agent@${w.revision}`]) }))
    const u = p.actions[0] as Extract<Action, { do: 'update' }>
    assert.equal(u.do, 'update')
    assert.equal(u.kind, undefined)
  })

  it('OnDelete leaves an outdated copy alone', () => {
    const w = wanted(ds({}, { spec: { updateStrategy: { type: 'OnDelete' } } }))
    assert.deepEqual(planPass(input({ wanted: [w], containers: [copy('r-old')] })).actions, [])
  })

  it('a held slot is released once the copy is current, alone and available', () => {
    const w = wanted(rolling({ maxUnavailable: 1 }, 1))
    const slots = new Map<string, SlotAnswer>([['default/agent', { phase: 'acting', term: 2, kind: 'unavailable', slot: 0 }]])
    const key = `default/agent@${w.revision}`
    const waiting = planPass(input({ wanted: [w], containers: [copy(w.revision)], slots, readySince: new Map([[key, { mono: 99_500, wall: 1 }]]) }))
    assert.deepEqual(waiting.actions, [])
    assert.equal(waiting.recheckMs, 502)
    const done = planPass(input({ wanted: [w], containers: [copy(w.revision)], slots, readySince: new Map([[key, { mono: 99_000, wall: 1 }]]) }))
    assert.deepEqual(kinds(done.actions), ['release'])
    assert.deepEqual(done.report['default/agent']?.updateSlot, { kind: 'unavailable', slot: 0, term: 2 }, 'held until released')
    const after = planPass(input({ wanted: [w], containers: [copy(w.revision)], readySince: new Map([[key, { mono: 99_000, wall: 1 }]]) }))
    assert.equal(after.report['default/agent']?.updateSlot, undefined, 'no slot, no updateSlot')
  })

  it('a copy with a failing readiness check is not ready and says why', () => {
    const w = wanted(rolling())
    const c = copy(w.revision, { readiness: '{}' })
    const p = planPass(input({ wanted: [w], containers: [c], probes: new Map([[c.name, { ready: false, why: 'readiness probe failed: boom' }]]) }))
    assert.equal(p.report['default/agent']?.ready, false)
    assert.equal(p.report['default/agent']?.lastError, 'readiness probe failed: boom')
  })
})

describe('readyCopies', () => {
  it('lists the copies that are ready now, by key and revision', () => {
    const w = wanted(rolling())
    const ready = readyCopies([w], [copy(w.revision), copy('r-old', { running: false })], new Set(), new Map())
    assert.deepEqual([...ready], [`default/agent@${w.revision}`])
  })
})

describe('planPass: grace periods and failed stops', () => {
  const state = { status: 'running', restarts: 0, startedAt: 1, error: '' }

  it('a removal carries the grace its container was created with, as inspected', () => {
    const p = planPass(input({ containers: [copy('r1')], deleted: new Set(['default.agent']), states: new Map([['c-r1', { ...state, stopTimeout: 45 }]]) }))
    const a = p.actions[0]
    assert.equal(a?.do === 'remove' ? a.removals[0]?.graceSeconds : undefined, 45)
    assert.equal(a?.do === 'remove' ? a.removals[0]?.daemonSet : undefined, 'default.agent')
  })

  it('without an inspected state, the DaemonSet\'s grace; for a deleted DaemonSet, 30 s', () => {
    const w = wanted(ds({ containers: [{ name: 'main', image: 'busybox:1.36' }], terminationGracePeriodSeconds: 7 }, { spec: { updateStrategy: { type: 'RollingUpdate' } } }))
    const p = planPass(input({ wanted: [w], containers: [copy(w.revision), copy('other', { id: 'id-2', name: 'c-2', podOwner: 'c-2', createdAt: 2000 })] }))
    const r = p.actions.find((a) => a.do === 'remove')
    assert.equal(r?.do === 'remove' ? r.removals[0]?.graceSeconds : undefined, 7)
    const gone = planPass(input({ containers: [copy('r1')], deleted: new Set(['default.agent']) })).actions[0]
    assert.equal(gone?.do === 'remove' ? gone.removals[0]?.graceSeconds : undefined, 30)
  })

  it('a stop that failed holds back the copy\'s removals until its back-off ends', () => {
    const failures = new Map([['default.agent', { error: 'KillContainerError: x', until: 200_000, delay: 10_000, during: 'stop' as const }]])
    assert.deepEqual(planPass(input({ containers: [copy('r1')], deleted: new Set(['default.agent']), failures })).actions, [])
    assert.deepEqual(kinds(planPass(input({ now: 300_000, containers: [copy('r1')], deleted: new Set(['default.agent']), failures })).actions), ['remove'])
  })

  it('a start that failed does not hold back removals', () => {
    const failures = new Map([['default.agent', { error: 'CreateContainerError: x', until: 200_000, delay: 10_000, during: 'start' as const }]])
    assert.deepEqual(kinds(planPass(input({ containers: [copy('r1')], deleted: new Set(['default.agent']), failures })).actions), ['remove'])
  })
})

describe('stepsByCopy', () => {
  it('gives each copy its own steps, in order; a removal list spanning copies is split', () => {
    const a = wanted(rolling())
    const other = { id: 'x', name: 'c-x', daemonSet: 'default.other', reason: 'its DaemonSet was deleted' }
    const mine = { id: 'y', name: 'c-y', daemonSet: 'default.agent', reason: 'an extra copy' }
    const actions: Action[] = [
      { do: 'remove', removals: [other, mine] },
      { do: 'start', ref: a.ref, plan: a.plan },
      { do: 'release', ref: a.ref },
    ]
    const steps = stepsByCopy(actions)
    assert.deepEqual([...steps.keys()].sort(), ['default.agent', 'default.other'])
    assert.deepEqual(steps.get('default.other'), [{ do: 'remove', removals: [other] }])
    assert.deepEqual(kinds(steps.get('default.agent') ?? []), ['remove', 'start', 'release'])
  })

  it('a delete request and the fresh copy after it are steps of one copy', () => {
    const w = wanted(rolling())
    const p = planPass(input({
      wanted: [w],
      containers: [copy(w.revision)],
      reported: { 'default/agent': { revision: w.revision, phase: 'Running', ready: true, restarts: 0, since: 50 } },
      deleteRequests: new Map([['default/agent', { id: 'pods/default/agent/host-1@1', revision: w.revision, since: 60 }]]),
    }))
    const steps = stepsByCopy(p.actions)
    assert.equal(steps.size, 1)
    assert.deepEqual(kinds(steps.get('default.agent') ?? []), ['delete-pod', 'start'])
  })
})

describe('planPass: liveness restarts and CrashLoopBackOff', () => {
  it('an unhealthy running container is restarted with its grace and its preStop hook', () => {
    const w = wanted(rolling())
    const c = copy(w.revision, { hooks: '{"preStop":{"exec":["true"]}}' })
    const p = planPass(input({ wanted: [w], containers: [c], probes: new Map([[c.name, { ready: true, unhealthy: 'Liveness probe failed: command exited with 1' }]]) }))
    assert.deepEqual(kinds(p.actions), ['restart'])
    const a = p.actions[0] as Extract<Action, { do: 'restart' }>
    assert.equal(a.why, 'Liveness probe failed: command exited with 1')
    assert.equal(a.removals[0]?.hooks, c.hooks)
    assert.equal(a.removals[0]?.graceSeconds, 30)
    assert.equal(p.report['default/agent']?.lastError, 'Liveness probe failed: command exited with 1')
  })

  it('a stopped copy in back-off is not started, shows CrashLoopBackOff, and is looked at when the back-off ends', () => {
    const w = wanted(rolling())
    const c = copy(w.revision, { running: false })
    const crashes = new Map([['default.agent', { until: 110_000, delay: 10_000, why: 'Liveness probe failed: x', at: 100_000 }]])
    const p = planPass(input({ wanted: [w], containers: [c], crashes, restarts: new Map([[c.name, 2]]), states: new Map([[c.name, { status: 'exited', restarts: 1, startedAt: 5, error: '' }]]) }))
    assert.deepEqual(p.actions, [])
    assert.equal(p.report['default/agent']?.reason, 'CrashLoopBackOff')
    assert.equal(p.report['default/agent']?.restarts, 3)
    assert.match(p.report['default/agent']?.lastError ?? '', /^back-off 10s restarting failed container: Liveness probe failed: x/)
    assert.equal(p.recheckMs, 10_020)
    const later = planPass(input({ now: 110_001, wanted: [w], containers: [c], crashes }))
    assert.deepEqual(kinds(later.actions), ['start'])
    assert.equal(later.report['default/agent']?.reason, undefined)
  })
})

describe('planPass: a crash-looping copy and a new revision', () => {
  it('the back-off of a liveness restart holds back a start, not an update: the new revision replaces the failing copy at once', () => {
    const w = wanted(rolling())
    const old = copy('r-old', { running: false })
    const crashes = new Map([['default.agent', { until: 200_000, delay: 10_000, why: 'Liveness probe failed: x', at: 100_000 }]])
    const p = planPass(input({ wanted: [w], containers: [old], crashes, pulled: new Set([`default.agent@${w.revision}`]) }))
    assert.deepEqual(kinds(p.actions), ['update'])
  })
})

describe('planPass: init containers in get pods', () => {
  it('a copy running its init containers reports Init:I/N; a failed one Init:Error, then Init:CrashLoopBackOff', () => {
    const w = wanted(rolling())
    assert.equal(planPass(input({ wanted: [w], initializing: new Map([['default.agent', 'Init:1/2']]) })).report['default/agent']?.reason, 'Init:1/2')
    const failed = (error: string): string | undefined => planPass(input({ wanted: [w], failures: new Map([['default.agent', { error, until: 200_000, delay: 10_000 }]]) })).report['default/agent']?.reason
    assert.equal(failed('Init:Error: init container setup exited with 3'), 'Init:Error')
    assert.equal(failed('Init:CrashLoopBackOff: init container setup exited with 3'), 'Init:CrashLoopBackOff')
    assert.equal(failed('ErrImagePull: nope'), undefined)
  })
})

describe('planPass: ownership of adopted copies', () => {
  const orphan = (o: Partial<ObservedContainer> = {}): ObservedContainer => copy('r-busy', { daemonSet: 'default.busy', name: 'c-busy', ...o })

  it('an orphaned copy is adopted by a matching DaemonSet and its owner remembered', () => {
    const w = wanted(rolling())
    const p = planPass(input({ wanted: [w], containers: [orphan()], orphaned: new Set(['default.busy']) }))
    assert.deepEqual([...p.owners], [['c-busy', 'default.agent']])
    assert.ok(p.report['default/agent'] !== undefined, 'reported under its adopter')
  })

  it('deleting the adopter removes the copies it adopted', () => {
    const p = planPass(input({ containers: [orphan()], orphaned: new Set(['default.busy']), deleted: new Set(['default.agent']), owners: new Map([['c-busy', 'default.agent']]) }))
    assert.deepEqual(kinds(p.actions), ['remove'])
    const a = p.actions[0] as Extract<Action, { do: 'remove' }>
    assert.equal(a.removals[0]?.name, 'c-busy')
  })

  it('an orphan delete of the adopter leaves them running, orphaned again', () => {
    const p = planPass(input({ containers: [orphan()], orphaned: new Set(['default.busy', 'default.agent']), owners: new Map([['c-busy', 'default.agent']]) }))
    assert.deepEqual(p.actions, [])
  })
})
