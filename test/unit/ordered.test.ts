import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inOrder } from '../../cli/ordered.js'

const later = <T>(ms: number, v: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(v), ms))

test('inOrder reports in input order while calls overlap, never more than the limit at once', async () => {
  let inFlight = 0
  let most = 0
  const seen: number[] = []
  await inOrder([30, 5, 20, 1, 10, 2], 3, async (ms) => {
    inFlight++
    most = Math.max(most, inFlight)
    await later(ms, undefined)
    inFlight--
    return ms
  }, (r) => seen.push(r))
  assert.deepEqual(seen, [30, 5, 20, 1, 10, 2])
  assert.equal(most, 3)
})

test('inOrder stops starting calls after an error and throws it once the calls in flight settle', async () => {
  const started: number[] = []
  const seen: number[] = []
  await assert.rejects(
    inOrder([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n)
      await later(5, undefined)
      if (n === 2) throw new Error('two failed')
      return n
    }, (r) => seen.push(r)),
    /two failed/,
  )
  assert.deepEqual(seen, [1])
  assert.ok(started.length <= 4, `started ${started.join(',')}`)
})

test('inOrder on no items does nothing', async () => {
  await inOrder([], 4, async () => 1, () => assert.fail('called'))
})
