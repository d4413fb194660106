import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { availableIn, copyReady, isAvailable, rolloutLimits } from '../../../core/rollout.js'
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
})

describe('rollout availability edge cases', () => {
  it('a ready copy whose ready time is unknown counts as available', () => {
    assert.equal(isAvailable({ revision: 'r', ready: true }, 30, 0), true)
  })
})

describe('readiness, defined once', () => {
  it('a copy is ready when it has containers and every one runs and passes its check', () => {
    assert.equal(copyReady([{ running: true, probeReady: true }, { running: true, probeReady: true }]), true)
    assert.equal(copyReady([{ running: true, probeReady: true }, { running: false, probeReady: true }]), false)
    assert.equal(copyReady([{ running: true, probeReady: false }]), false)
    assert.equal(copyReady([]), false)
  })

  it('availability comes minReadySeconds after the copy was first seen ready', () => {
    assert.equal(availableIn(1000, 5, 4000), 2000)
    assert.equal(availableIn(1000, 5, 6000), 0)
    assert.equal(availableIn(1000, 0, 1000), 0)
  })
})
