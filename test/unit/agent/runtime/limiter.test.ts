import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CallTimeoutError, Limiter, withDeadline } from '../../../../agent/runtime/limiter.js'

const deferred = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve: () => void = () => undefined
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('Limiter', () => {
  it('lets at most its limit in at once; the others wait in arrival order', async () => {
    const l = new Limiter(2)
    const gates = [deferred(), deferred(), deferred(), deferred()]
    const entered: number[] = []
    const runs = gates.map((g, i) => l.run(async () => {
      entered.push(i)
      await g.promise
      return i
    }))
    await tick()
    assert.deepEqual(entered, [0, 1])
    assert.equal(l.inUse, 2)
    assert.equal(l.waiting, 2)
    gates[1]?.resolve()
    await tick()
    assert.deepEqual(entered, [0, 1, 2])
    gates[0]?.resolve()
    gates[2]?.resolve()
    gates[3]?.resolve()
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3])
    assert.equal(l.inUse, 0)
  })

  it('gives the place back when the call fails', async () => {
    const l = new Limiter(1)
    await assert.rejects(l.run(() => Promise.reject(new Error('boom'))), /boom/)
    assert.equal(await l.run(() => Promise.resolve('next')), 'next')
  })

  it('refuses a limit below 1', () => {
    assert.throws(() => new Limiter(0), RangeError)
  })
})

describe('withDeadline', () => {
  it('a call that answers in time gives its answer', async () => {
    assert.equal(await withDeadline('docker inspect x', 1000, () => Promise.resolve(7)), 7)
  })

  it('a call that never answers is aborted and rejected with CallTimeoutError naming it', async () => {
    let aborted: AbortSignal | undefined
    await assert.rejects(
      withDeadline('docker stop abc', 30, (signal) => {
        aborted = signal
        return new Promise(() => undefined)
      }),
      (err: unknown) => err instanceof CallTimeoutError && err.name === 'CallTimeoutError' && err.message === 'docker stop abc did not answer within 30 ms',
    )
    assert.equal(aborted?.aborted, true)
  })

  it('progress restarts the deadline: a pull that keeps advancing is not cut', async () => {
    const t0 = Date.now()
    const got = await withDeadline('docker pull img', 60, async (_signal, progressed) => {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 30))
        progressed()
      }
      return 'pulled'
    })
    assert.equal(got, 'pulled')
    assert.ok(Date.now() - t0 >= 150)
  })
})
