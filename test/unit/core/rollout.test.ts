import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isAvailable, planRollout, rolloutLimits, type NodePods } from '../../../core/rollout.js'
import { ds } from '../../helpers/fixtures.js'

const strategy = (maxUnavailable: number | string, maxSurge: number | string, minReadySeconds = 0) =>
  ds({}, { spec: { minReadySeconds, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable, maxSurge } } } })

const limits: [string, number | string, number | string, number, number, number][] = [
  ['ints are taken as they are', 2, 0, 10, 2, 0],
  ['percent rounds up', '25%', 0, 10, 3, 0],
  ['percent of a small fleet rounds up to one', '10%', 0, 3, 1, 0],
  ['0% unavailable with surge', 0, '20%', 7, 0, 2],
  ['100% unavailable', '100%', 0, 5, 5, 0],
  ['percent of an empty fleet is zero (falls back to one unavailable)', '50%', 0, 0, 1, 0],
]

const n = (node: string, ...pods: [string, boolean, number?][]): NodePods => ({ node, pods: pods.map(([revision, ready, readySince]) => ({ revision, ready, ...(readySince === undefined ? {} : { readySince }) })) })

describe('rollout arithmetic', () => {
  for (const [name, mu, ms, desired, wantU, wantS] of limits) {
    it(name, () => assert.deepEqual(rolloutLimits(strategy(mu, ms), desired), { maxUnavailable: wantU, maxSurge: wantS }))
  }

  it('defaults are maxUnavailable 1, maxSurge 0', () => assert.deepEqual(rolloutLimits(ds(), 50), { maxUnavailable: 1, maxSurge: 0 }))

  it('availability waits minReadySeconds after ready', () => {
    assert.equal(isAvailable({ revision: 'r', ready: true, readySince: 1000 }, 5, 5999), false)
    assert.equal(isAvailable({ revision: 'r', ready: true, readySince: 1000 }, 5, 6000), true)
    assert.equal(isAvailable({ revision: 'r', ready: false, readySince: 1000 }, 0, 9999), false)
  })

  it('maxUnavailable 1: one old copy at a time, first in order', () => {
    const step = planRollout(strategy(1, 0), 'new', [n('a', ['old', true]), n('b', ['old', true]), n('c', ['old', true])], 0)
    assert.deepEqual(step.stopOld, ['a'])
    assert.equal(step.done, false)
  })

  it('maxUnavailable 1: nothing more while a new copy is not yet available', () => {
    const step = planRollout(strategy(1, 0, 10), 'new', [n('a', ['new', true, 0]), n('b', ['old', true]), n('c', ['old', true])], 5000)
    assert.deepEqual(step.stopOld, [])
    assert.equal(step.unavailable, 1)
  })

  it('maxUnavailable 2 lets two go', () => {
    const step = planRollout(strategy(2, 0), 'new', [n('a', ['new', true]), n('b', ['old', true]), n('c', ['old', true]), n('d', ['old', true])], 0)
    assert.deepEqual(step.stopOld, ['b', 'c'])
  })

  it('an old copy that is already unavailable may always be replaced', () => {
    const step = planRollout(strategy(1, 0), 'new', [n('a'), n('b', ['old', false]), n('c', ['old', true])], 0)
    assert.deepEqual(step.stopOld, ['b'])
    assert.equal(step.unavailable, 1)
  })

  it('a node with two copies counts as unavailable and blocks others at the bound', () => {
    const step = planRollout(strategy(1, 0), 'new', [n('a', ['old', true], ['new', true]), n('b', ['old', true])], 0)
    assert.deepEqual(step.stopOld, [])
  })

  it('surge: start new copies up to maxSurge, stop old ones once the new is available', () => {
    const nodes = [n('a', ['old', true], ['new', true]), n('b', ['old', true], ['new', false]), n('c', ['old', true]), n('d', ['old', true])]
    const step = planRollout(strategy(0, 2), 'new', nodes, 0)
    assert.deepEqual(step.stopOld, ['a'])
    assert.deepEqual(step.startNew, ['c'])
    assert.equal(step.surging, 1)
  })

  it('done when every node runs one available copy of the revision', () => {
    assert.equal(planRollout(ds(), 'new', [n('a', ['new', true]), n('b', ['new', true])], 0).done, true)
    assert.equal(planRollout(ds(), 'new', [n('a', ['new', true]), n('b', ['new', false])], 0).done, false)
  })

  it('never exceeds maxUnavailable over a simulated rollout', () => {
    for (const mu of [1, 2, 3]) {
      const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
      const state = new Map(names.map((x) => [x, [{ revision: 'old', ready: true }]]))
      for (let round = 0; round < 50; round++) {
        const nodes = names.map((x) => ({ node: x, pods: state.get(x) ?? [] }))
        const step = planRollout(strategy(mu, 0), 'new', nodes, 0)
        if (step.done) break
        for (const x of step.stopOld) state.set(x, [])
        const down = names.filter((x) => !(state.get(x) ?? []).some((p) => p.ready)).length
        assert.ok(down <= mu, `round ${round}: ${down} down with maxUnavailable ${mu}`)
        // Nodes with no copy start the new revision; it becomes ready next round.
        for (const x of names) {
          const pods = state.get(x) ?? []
          if (pods.length === 0) state.set(x, [{ revision: 'new', ready: false }])
          else if (pods[0]?.revision === 'new') state.set(x, [{ revision: 'new', ready: true }])
        }
      }
      assert.ok(names.every((x) => state.get(x)?.[0]?.revision === 'new' && state.get(x)?.[0]?.ready), `maxUnavailable ${mu} completes`)
    }
  })
})

describe('rollout availability edge cases', () => {
  it('a ready copy whose ready time is unknown counts as available', () => {
    assert.equal(isAvailable({ revision: 'r', ready: true }, 30, 0), true)
  })
})
