// An update under a slot starts its new copy without pulling again: the images were pulled
// before the slot was claimed and found present just before the old copy stopped, so a pull
// (imagePullPolicy: Always) while the host has no copy would only add a registry's round
// trip to the time it is down, or keep it down while the registry is unreachable.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { podPlan } from '../../../../core/container-spec.js'
import { refOf } from '../../../../core/keyspace.js'
import type { Action } from '../../../../core/pass.js'
import { Actor } from '../../../../agent/reconciler/actor.js'
import type { SlotGate } from '../../../../agent/reconciler/ports.js'
import { withTimings } from '../../../../agent/defaults.js'
import type { StartOptions } from '../../../../agent/runtime/runtime.js'
import { ds, node } from '../../../helpers/fixtures.js'
import { quietRuntime } from '../../../helpers/quiet-runtime.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const slots: SlotGate = { status: () => ({ phase: 'idle' }), claim: () => undefined, enter: () => true, release: () => undefined }

/** started runs one action on an Actor over a quiet runtime and returns the `pulled` of each startPod. */
async function started(action: Action): Promise<(boolean | undefined)[]> {
  const seen: (boolean | undefined)[] = []
  const runtime = { ...quietRuntime(), startPod: async (_plan: unknown, opts?: StartOptions) => void seen.push(opts?.pulled) }
  const actor = new Actor({ runtime, clock: new VirtualClock(), slots, timings: withTimings().reconciler, log: pino({ level: 'silent' }), retry: () => undefined })
  await actor.perform('default.w', action, () => undefined)
  return seen
}

describe('pulling around an update', () => {
  const d = ds({ containers: [{ name: 'main', image: 'registry.local/app:latest', imagePullPolicy: 'Always' }] }, { metadata: { name: 'w' } })
  const stop = [{ id: 'w-old', name: 'c-w', daemonSet: 'default.w', reason: 'outdated', graceSeconds: 1 }]

  it('under a slot the new copy starts from the images pulled before the slot: no pull while the host has no copy', async () => {
    assert.deepEqual(await started({ do: 'update', ref: refOf(d), plan: podPlan(d, node('host-1')), kind: 'unavailable', term: 1, stop }), [true])
  })

  it('replacing a copy that is not ready (no slot, nothing pulled before) applies the pull policy', async () => {
    assert.deepEqual(await started({ do: 'update', ref: refOf(d), plan: podPlan(d, node('host-1')), stop }), [false])
  })

  it('a plain start applies the pull policy', async () => {
    assert.deepEqual(await started({ do: 'start', ref: refOf(d), plan: podPlan(d, node('host-1')) }), [false])
  })
})

describe('an update\'s pod created ahead, while the host waits for its turn', () => {
  const d = ds({ containers: [{ name: 'main', image: 'registry.local/app:2' }] }, { metadata: { name: 'w' } })
  const plan = podPlan(d, node('host-1'))

  /** prepared runs a prepare step whose runtime answers with `made`, and returns whether the step changed anything and what the actor then remembers. */
  async function prepared(made: () => Promise<boolean>): Promise<{ changed: boolean; remembered: string[] }> {
    const runtime = { ...quietRuntime(), preparePod: made }
    const actor = new Actor({ runtime, clock: new VirtualClock(), slots, timings: withTimings().reconciler, log: pino({ level: 'silent' }), retry: () => undefined })
    const out = await actor.perform('default.w', { do: 'prepare', ref: refOf(d), plan }, () => undefined)
    return { changed: out.changed && !out.halt, remembered: [...actor.prepared] }
  }

  it('the pod is created once: the revision is remembered, and Docker changed', async () => {
    assert.deepEqual(await prepared(async () => true), { changed: true, remembered: [`default.w@${plan.revision}`] })
  })

  it('a pod that could not be created ahead is tried once, and left to the update; nothing halts', async () => {
    for (const made of [async () => false, async () => Promise.reject(new Error('no space left'))]) {
      assert.deepEqual(await prepared(made), { changed: false, remembered: [`default.w@${plan.revision}`] })
    }
  })
})
