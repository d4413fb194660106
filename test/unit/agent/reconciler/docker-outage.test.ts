// The reconciler across a Docker outage, on a scripted ContainerRuntime and the virtual
// clock: a start that failed because Docker went away is tried again as soon as Docker
// answers again, not after its back-off; a start that failed while Docker answered keeps it.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import type { PodPlan } from '../../../../core/container-spec.js'
import type { Envelope } from '../../../../core/envelope.js'
import { StoreKey, refOf } from '../../../../core/keyspace.js'
import type { NodeRecord } from '../../../../core/node-record.js'
import { withTimings } from '../../../../agent/defaults.js'
import { Reconciler } from '../../../../agent/reconciler/reconciler.js'
import type { SelfNode, SlotGate } from '../../../../agent/reconciler/ports.js'
import type { ContainerRuntime } from '../../../../agent/runtime/runtime.js'
import { ds } from '../../../helpers/fixtures.js'
import { quietRuntime } from '../../../helpers/quiet-runtime.js'
import { VirtualClock, settle } from '../../../helpers/virtual-clock.js'

/** Outage is a Docker that answers or not, and whose starts fail as the test says. */
class Outage {
  down = false
  failStarts = false
  readonly starts: number[] = []
  constructor(private readonly clock: VirtualClock) {}
  runtime(): ContainerRuntime {
    const away = (): Error => Object.assign(new Error('connect ENOENT /run/docker.sock'), { code: 'ENOENT' })
    return {
      ...quietRuntime(),
      list: async () => {
        if (this.down) throw away()
        return []
      },
      startPod: async (_plan: PodPlan) => {
        this.starts.push(this.clock.mono())
        if (this.down || this.failStarts) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
      },
    }
  }
}

function setup(): { clock: VirtualClock; docker: Outage; reconciler: Reconciler } {
  const clock = new VirtualClock()
  const docker = new Outage(clock)
  const d = ds({}, { metadata: { name: 'plain' } })
  const entry = { key: StoreKey.daemonSet(refOf(d)), value: d, op: 'put', hlc: '1', author: 'operator' } as unknown as Envelope
  const store = { live: (prefix: string) => (entry.key.startsWith(prefix) ? [entry] : []), all: () => [entry], get: (key: string) => (key === entry.key ? entry : undefined) }
  let record: NodeRecord = { name: 'host-1', peerId: 'p', addresses: [], labels: {}, taints: [], conditions: [], version: 'test', state: 'alive', startedAt: 0, incarnation: 0, pods: {} }
  const node: SelfNode = { self: () => record, setPods: (pods) => (record = { ...record, pods }), setConditions: (conditions) => (record = { ...record, conditions: conditions as NodeRecord['conditions'] }) }
  const slots: SlotGate = { status: () => ({ phase: 'idle' }), claim: () => undefined, enter: () => true, release: () => undefined }
  const reconciler = new Reconciler({ runtime: docker.runtime(), clock, store, node, slots, timings: withTimings().reconciler, log: pino({ level: 'silent' }) })
  return { clock, docker, reconciler }
}

describe('the reconciler across a Docker outage', () => {
  it('a start that failed as Docker went away is retried once Docker answers, without waiting out its back-off', async () => {
    const { clock, docker, reconciler } = setup()
    docker.failStarts = true
    reconciler.start()
    await settle()
    assert.equal(docker.starts.length, 1, 'the first pass starts the copy')
    // Docker goes away: the next pass cannot list, and retries within dockerRetryStartMs.
    docker.down = true
    reconciler.trigger()
    await clock.advance(1000)
    // Still failing, so the retry settles into a back-off of its own (a started copy would have to be listed).
    docker.down = false
    await clock.advance(2500)
    const backoff = withTimings().reconciler.backoffStartMs
    assert.equal(docker.starts.length, 2, 'started again once Docker answered')
    assert.ok((docker.starts[1] as number) < backoff, `retried at ${docker.starts[1]} ms, before the ${backoff} ms back-off ends`)
    reconciler.stop()
  })

  it('a start that failed while Docker answered waits out its back-off', async () => {
    const { clock, docker, reconciler } = setup()
    docker.failStarts = true
    reconciler.start()
    await settle()
    assert.equal(docker.starts.length, 1)
    const backoff = withTimings().reconciler.backoffStartMs
    for (let t = 0; t < backoff - 1000; t += 1000) {
      reconciler.trigger()
      await clock.advance(1000)
    }
    assert.equal(docker.starts.length, 1, 'no retry within the back-off')
    await clock.advance(2000)
    assert.equal(docker.starts.length, 2, 'retried when it ended')
    reconciler.stop()
  })
})
