// The reconciler with a pod that names a ConfigMap not yet in the store, on a scripted
// ContainerRuntime and the virtual clock: its start fails (as the real runtime's does, with
// nothing created) and is backed off, and it is tried again as soon as the ConfigMap arrives,
// not when the back-off ends. A store change that gives it nothing it lacked does not cut
// the back-off short.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import type { PodPlan } from '../../../../core/container-spec.js'
import type { Envelope } from '../../../../core/envelope.js'
import { StoreKey, dsRef, refOf } from '../../../../core/keyspace.js'
import type { NodeRecord } from '../../../../core/node-record.js'
import type { ObservedContainer } from '../../../../core/reconcile.js'
import { withTimings } from '../../../../agent/defaults.js'
import { Reconciler } from '../../../../agent/reconciler/reconciler.js'
import type { SelfNode, SlotGate } from '../../../../agent/reconciler/ports.js'
import type { ContainerRuntime } from '../../../../agent/runtime/runtime.js'
import { ds } from '../../../helpers/fixtures.js'
import { quietRuntime } from '../../../helpers/quiet-runtime.js'
import { VirtualClock, settle } from '../../../helpers/virtual-clock.js'

/** Docker that refuses a pod lacking anything, as the runtime's volume step does, records every start, and lists the pod it started as running. */
function runtime(clock: VirtualClock, starts: { at: number; missing: string[] }[]): ContainerRuntime {
  let running: ObservedContainer[] = []
  return {
    ...quietRuntime(),
    list: async () => running,
    states: async (names) => names.map((name) => ({ name, status: 'running', running: true, restarts: 0, startedAt: 1, exitCode: 0, error: '', stopTimeout: 30 })),
    startPod: async (plan: PodPlan) => {
      starts.push({ at: clock.mono(), missing: plan.missing })
      if (plan.missing.length > 0) throw Object.assign(new Error(plan.missing.join('; ')), { name: 'MountError' })
      const owner = plan.containers[0]?.create.name ?? ''
      running = plan.containers.map((c) => ({ id: c.create.name, name: c.create.name, daemonSet: plan.daemonSet, revision: plan.revision, container: c.name, podOwner: owner, running: true, createdAt: 1, labels: {} }))
    },
  }
}

const configMap = (name: string, data: Record<string, string>): Envelope =>
  ({ key: StoreKey.configMap(dsRef('default', name)), value: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data }, op: 'put', hlc: '2', author: 'operator' }) as unknown as Envelope

function setup(): { clock: VirtualClock; starts: { at: number; missing: string[] }[]; put: (e: Envelope) => void; reconciler: Reconciler } {
  const clock = new VirtualClock()
  const starts: { at: number; missing: string[] }[] = []
  const d = ds({ volumes: [{ name: 'cfg', configMap: { name: 'later' } }], containers: [{ name: 'main', image: 'busybox:1.36', volumeMounts: [{ name: 'cfg', mountPath: '/etc/later' }] }] }, { metadata: { name: 'plain' } })
  const entries = new Map<string, Envelope>()
  const put = (e: Envelope): void => void entries.set(e.key, e)
  put({ key: StoreKey.daemonSet(refOf(d)), value: d, op: 'put', hlc: '1', author: 'operator' } as unknown as Envelope)
  const store = { live: (prefix: string) => [...entries.values()].filter((e) => e.key.startsWith(prefix)), all: () => [...entries.values()], get: (key: string) => entries.get(key) }
  let record: NodeRecord = { name: 'host-1', peerId: 'p', addresses: [], labels: {}, taints: [], conditions: [], version: 'test', state: 'alive', startedAt: 0, incarnation: 0, pods: {} }
  const node: SelfNode = { self: () => record, setPods: (pods) => (record = { ...record, pods }), setConditions: (conditions) => (record = { ...record, conditions: conditions as NodeRecord['conditions'] }) }
  const slots: SlotGate = { status: () => ({ phase: 'idle' }), claim: () => undefined, enter: () => true, release: () => undefined }
  const reconciler = new Reconciler({ runtime: runtime(clock, starts), clock, store, node, slots, timings: withTimings().reconciler, log: pino({ level: 'silent' }) })
  return { clock, starts, put, reconciler }
}

describe('a pod whose ConfigMap is missing', () => {
  const backoff = withTimings().reconciler.backoffStartMs

  it('is started as soon as the ConfigMap arrives, not when its back-off ends', async () => {
    const { clock, starts, put, reconciler } = setup()
    reconciler.start()
    await settle()
    assert.equal(starts.length, 1, 'the first pass tries the copy')
    assert.deepEqual(starts[0]?.missing, ['configmap "later" not found'])
    await clock.advance(2000)
    assert.equal(starts.length, 1, 'backed off: not tried again meanwhile')
    // The ConfigMap arrives (a store change triggers a pass, as the agent wires it).
    put(configMap('later', { greeting: 'hello' }))
    reconciler.trigger()
    await clock.advance(100)
    assert.equal(starts.length, 2, 'tried again once the ConfigMap arrived')
    assert.ok((starts[1]?.at ?? Infinity) < backoff, `retried at ${starts[1]?.at} ms, before the ${backoff} ms back-off ends`)
    assert.deepEqual(starts[1]?.missing, [], 'with nothing missing')
    reconciler.stop()
  })

  it('keeps its back-off when the store changes without what it lacks', async () => {
    const { clock, starts, put, reconciler } = setup()
    reconciler.start()
    await settle()
    assert.equal(starts.length, 1)
    put(configMap('other', { a: 'b' }))
    reconciler.trigger()
    for (let t = 0; t < backoff - 1000; t += 1000) {
      reconciler.trigger()
      await clock.advance(1000)
    }
    assert.equal(starts.length, 1, 'no retry within the back-off: nothing it lacked arrived')
    await clock.advance(2000)
    assert.equal(starts.length, 2, 'retried when the back-off ended')
    reconciler.stop()
  })
})
