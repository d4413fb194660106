// Pod workers on a fake ContainerRuntime whose calls answer only when the test says so:
// copies side by side, each copy's steps in order, newer decisions superseding, stale ones
// dropped, a failed stop ending its copy's list.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import type { PodPlan } from '../../../../core/container-spec.js'
import { podPlan } from '../../../../core/container-spec.js'
import { refOf } from '../../../../core/keyspace.js'
import type { Action } from '../../../../core/pass.js'
import { Actor } from '../../../../agent/reconciler/actor.js'
import type { SlotGate } from '../../../../agent/reconciler/ports.js'
import { Workers } from '../../../../agent/reconciler/workers.js'
import { withTimings } from '../../../../agent/defaults.js'
import type { ContainerRuntime } from '../../../../agent/runtime/runtime.js'
import { ds, node } from '../../../helpers/fixtures.js'
import { quietRuntime } from '../../../helpers/quiet-runtime.js'
import { VirtualClock, settle } from '../../../helpers/virtual-clock.js'

interface Call {
  op: 'remove' | 'start' | 'stop'
  what: string
  resolve: () => void
  reject: (err: Error) => void
}

/** FakeRuntime records every remove and startPod; each answers when the test resolves it. */
class FakeRuntime {
  readonly calls: Call[] = []
  private call(op: Call['op'], what: string): Promise<void> {
    return new Promise((resolve, reject) => this.calls.push({ op, what, resolve, reject }))
  }
  open(op: Call['op'], what: string): Call {
    const c = this.calls.find((x) => x.op === op && x.what === what)
    if (c === undefined) throw new Error(`no ${op} of ${what} (calls: ${this.calls.map((x) => `${x.op} ${x.what}`).join(', ')})`)
    return c
  }
  seen(): string[] {
    return this.calls.map((c) => `${c.op} ${c.what}`)
  }
  runtime(): ContainerRuntime {
    return {
      ...quietRuntime(),
      startPod: (plan: PodPlan) => this.call('start', plan.daemonSet),
      remove: (id: string) => this.call('remove', id),
      stopContainer: (id: string) => this.call('stop', id),
    }
  }
}

const slots: SlotGate = { status: () => ({ phase: 'idle' }), claim: () => undefined, enter: () => true, release: () => undefined }
const plan = (name: string, grace = 30): { ref: ReturnType<typeof refOf>; plan: PodPlan } => {
  const d = ds({ terminationGracePeriodSeconds: grace }, { metadata: { name } })
  return { ref: refOf(d), plan: podPlan(d, node('host-1')) }
}
const start = (name: string): Action => ({ do: 'start', ...plan(name) })
const remove = (name: string, grace = 30): Action => ({ do: 'remove', removals: [{ id: `${name}-old`, name: `c-${name}`, daemonSet: `default.${name}`, reason: 'test', graceSeconds: grace }] })

function setup(): { fake: FakeRuntime; workers: Workers; actor: Actor; settled: () => number } {
  const fake = new FakeRuntime()
  const clock = new VirtualClock()
  const log = pino({ level: 'silent' })
  const actor = new Actor({ runtime: fake.runtime(), clock, slots, timings: withTimings().reconciler, log, retry: () => undefined })
  let settledCount = 0
  const workers = new Workers({ perform: (copy, a, doing) => actor.perform(copy, a, doing), clock, log, settled: () => settledCount++ })
  return { fake, workers, actor, settled: () => settledCount }
}

describe('pod workers', () => {
  it('copies run side by side: a stop that has not returned does not hold up another copy\'s start', async () => {
    const { fake, workers } = setup()
    const seen = workers.observing()
    workers.dispatch('default.slow', seen, [remove('slow')])
    workers.dispatch('default.fast', seen, [start('fast')])
    await settle()
    assert.deepEqual(fake.seen(), ['remove slow-old', 'start default.fast'])
    fake.open('start', 'default.fast').resolve()
    await settle()
    assert.equal(workers.busy('default.fast'), false)
    assert.equal(workers.busy('default.slow'), true)
  })

  it('a copy\'s steps run one after another: its new copy starts only once the old one is gone', async () => {
    const { fake, workers } = setup()
    workers.dispatch('default.a', workers.observing(), [remove('a'), start('a')])
    await settle()
    assert.deepEqual(fake.seen(), ['remove a-old'])
    fake.open('remove', 'a-old').resolve()
    await settle()
    assert.deepEqual(fake.seen(), ['remove a-old', 'start default.a'])
  })

  it('shows what each busy worker is doing, and nothing once it is done', async () => {
    const { fake, workers } = setup()
    workers.dispatch('default.slow', workers.observing(), [remove('slow', 30)])
    await settle()
    assert.equal(workers.activities().get('default.slow')?.doing, 'Stopping (grace 30 s)')
    fake.open('remove', 'slow-old').resolve()
    await settle()
    assert.equal(workers.activities().size, 0)
  })

  it('a newer decision supersedes a busy worker\'s remaining steps: a copy being stopped is not started by the older plan', async () => {
    const { fake, workers, settled } = setup()
    workers.dispatch('default.a', workers.observing(), [remove('a'), start('a')])
    await settle()
    // The DaemonSet was deleted meanwhile: the next pass decides nothing more for it.
    workers.dispatch('default.a', workers.observing(), [])
    fake.open('remove', 'a-old').resolve()
    await settle()
    assert.deepEqual(fake.seen(), ['remove a-old'], 'no start after the stop')
    assert.equal(settled(), 1, 'a fresh pass is asked for')
  })

  it('a decision observed before the copy\'s last change ended is dropped as stale', async () => {
    const { fake, workers } = setup()
    workers.dispatch('default.a', workers.observing(), [start('a')])
    // A pass begins while the start is under way: it sees no container yet.
    const during = workers.observing()
    fake.open('start', 'default.a').resolve()
    await settle()
    workers.dispatch('default.a', during, [start('a')])
    await settle()
    assert.deepEqual(fake.seen(), ['start default.a'], 'not started twice')
    // A pass that began after the change is acted on.
    workers.dispatch('default.a', workers.observing(), [remove('a')])
    await settle()
    assert.deepEqual(fake.seen(), ['start default.a', 'remove a-old'])
  })

  it('a stop that fails ends the copy\'s list: no new copy beside an old one that may still run', async () => {
    const { fake, workers, actor, settled } = setup()
    workers.dispatch('default.a', workers.observing(), [remove('a'), start('a')])
    await settle()
    const err = new Error('docker stop a-old did not answer within 45 s')
    err.name = 'CallTimeoutError'
    fake.open('remove', 'a-old').reject(err)
    await settle()
    assert.deepEqual(fake.seen(), ['remove a-old'])
    const f = actor.failures.get('default.a')
    assert.equal(f?.during, 'stop')
    assert.match(f?.error ?? '', /^KillContainerError: docker stop a-old did not answer within 45 s$/)
    assert.equal(settled(), 1)
    assert.equal(workers.busy('default.a'), false)
  })

  it('an update stops the old copy, starts the new one, then removes the old one, showing each', async () => {
    const { fake, workers } = setup()
    const p = plan('u', 10)
    workers.dispatch('default.u', workers.observing(), [{ do: 'update', ...p, stop: [{ id: 'u-old', name: 'c-u', daemonSet: 'default.u', reason: 'test', graceSeconds: 10 }] }])
    await settle()
    assert.equal(workers.activities().get('default.u')?.doing, 'Stopping the old copy (grace 10 s)')
    assert.deepEqual(fake.seen(), ['stop u-old'], 'nothing starts before the old copy has stopped')
    fake.open('stop', 'u-old').resolve()
    await settle()
    assert.equal(workers.activities().get('default.u')?.doing, `Starting revision ${p.plan.revision}`)
    assert.deepEqual(fake.seen(), ['stop u-old', 'start default.u'], 'the old container stays until the new copy has started')
    fake.open('start', 'default.u').resolve()
    await settle()
    assert.deepEqual(fake.seen(), ['stop u-old', 'start default.u', 'remove u-old'])
    assert.equal(workers.busy('default.u'), true, 'the step ends once the old copy is removed too')
    fake.open('remove', 'u-old').resolve()
    await settle()
    assert.equal(workers.busy('default.u'), false)
  })

  it('an update whose stop fails starts nothing', async () => {
    const { fake, workers } = setup()
    const p = plan('v', 10)
    workers.dispatch('default.v', workers.observing(), [{ do: 'update', ...p, stop: [{ id: 'v-old', name: 'c-v', daemonSet: 'default.v', reason: 'test', graceSeconds: 10 }] }])
    await settle()
    fake.open('stop', 'v-old').reject(new Error('daemon busy'))
    await settle()
    fake.open('remove', 'v-old').reject(new Error('daemon busy'))
    await settle()
    assert.deepEqual(fake.seen(), ['stop v-old', 'remove v-old'])
  })

  it('stopped workers take no further step', async () => {
    const { fake, workers } = setup()
    workers.dispatch('default.a', workers.observing(), [remove('a'), start('a')])
    await settle()
    workers.stop()
    fake.open('remove', 'a-old').resolve()
    await settle()
    workers.dispatch('default.b', workers.observing(), [start('b')])
    await settle()
    assert.deepEqual(fake.seen(), ['remove a-old'])
  })

  it('sweep forgets idle workers once newer decisions went out', async () => {
    const { fake, workers } = setup()
    workers.dispatch('default.a', workers.observing(), [start('a')])
    fake.open('start', 'default.a').resolve()
    await settle()
    const later = workers.observing()
    workers.sweep(later)
    // Forgotten: a decision from that later observation is acted on.
    workers.dispatch('default.a', later, [remove('a')])
    await settle()
    assert.deepEqual(fake.seen(), ['start default.a', 'remove a-old'])
  })
})
