// An update stops the old copy, starts the new one, and only then removes the old container
// (workers.test.ts follows each step): while the host has no running copy the engine is not
// also busy removing. When the new copy reuses a name of the old, its start would find that
// container and start it: the old one is removed beside the start instead. A new pod not
// created ahead is created while the old copy stops, and started once both are done.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { podPlan } from '../../../../core/container-spec.js'
import { refOf } from '../../../../core/keyspace.js'
import { Actor } from '../../../../agent/reconciler/actor.js'
import type { SlotGate } from '../../../../agent/reconciler/ports.js'
import { withTimings } from '../../../../agent/defaults.js'
import { ds, node } from '../../../helpers/fixtures.js'
import { quietRuntime } from '../../../helpers/quiet-runtime.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const slots: SlotGate = { status: () => ({ phase: 'idle' }), claim: () => undefined, enter: () => true, release: () => undefined }
const d = ds({ containers: [{ name: 'main', image: 'registry.local/app:2' }] }, { metadata: { name: 'w' } })
const plan = podPlan(d, node('host-1'))

/** calls runs an update replacing a container named `oldName` (after a prepare step when `ahead`) and returns the runtime's calls in the order they began and ended. */
async function calls(oldName: string, ahead = false): Promise<string[]> {
  const seen: string[] = []
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
  const runtime = {
    ...quietRuntime(),
    preparePod: async () => {
      seen.push('create begins')
      await tick()
      seen.push('create ends')
      return true
    },
    stopContainer: async (id: string) => {
      seen.push(`stop ${id} begins`)
      await tick()
      await tick()
      seen.push(`stop ${id} ends`)
    },
    startPod: async () => {
      seen.push('start begins')
      await tick()
      seen.push('start ends')
    },
    remove: async (id: string) => {
      seen.push(`remove ${id} begins`)
      await tick()
      seen.push(`remove ${id} ends`)
    },
  }
  const actor = new Actor({ runtime, clock: new VirtualClock(), slots, timings: withTimings().reconciler, log: pino({ level: 'silent' }), retry: () => undefined })
  const stop = [{ id: 'old', name: oldName, daemonSet: 'default.w', reason: 'outdated', graceSeconds: 1 }]
  if (ahead) {
    await actor.perform('default.w', { do: 'prepare', ref: refOf(d), plan }, () => undefined)
    seen.length = 0
  }
  await actor.perform('default.w', { do: 'update', ref: refOf(d), plan, kind: 'unavailable', term: 1, stop }, () => undefined)
  return seen
}

describe('the order of an update', () => {
  it('creates the new pod while the old copy stops, starts it once both are done, then removes the old container', async () => {
    assert.deepEqual(await calls('dm_default_w_main_oldrevision_host-1'), ['create begins', 'stop old begins', 'create ends', 'stop old ends', 'start begins', 'start ends', 'remove old begins', 'remove old ends'])
  })

  it('a pod created ahead (while the host waited for its turn) is not created again: stop, start, remove', async () => {
    assert.deepEqual(await calls('dm_default_w_main_oldrevision_host-1', true), ['stop old begins', 'stop old ends', 'start begins', 'start ends', 'remove old begins', 'remove old ends'])
  })

  it('removes the old container beside the start when the new copy reuses its name, and creates nothing while it stops', async () => {
    const name = plan.containers[0]?.create.name
    assert.ok(name !== undefined)
    const seen = await calls(name)
    assert.deepEqual(seen.slice(0, 2), ['stop old begins', 'stop old ends'])
    assert.ok(!seen.includes('create begins'), seen.join(', '))
    assert.ok(seen.indexOf('remove old begins') < seen.indexOf('start ends'), seen.join(', '))
  })
})
