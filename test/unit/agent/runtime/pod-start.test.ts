// A pod created ahead of its update (preparePod) and started under the slot (startPod): the
// start goes to Docker at once, with no create; a prepared container that is gone is created
// then, and one that will not start is replaced. A fake engine: plain data, no Docker.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type Docker from 'dockerode'
import { pino } from 'pino'
import { podPlan } from '../../../../core/container-spec.js'
import { withTimings } from '../../../../agent/defaults.js'
import { DockerImages } from '../../../../agent/runtime/images.js'
import { Limiter, type EngineCall } from '../../../../agent/runtime/limiter.js'
import { PodStarter } from '../../../../agent/runtime/pod-start.js'
import { PodVolumes } from '../../../../agent/runtime/pod-volumes.js'
import { ds, node } from '../../../helpers/fixtures.js'

const failing = (statusCode: number): Error => Object.assign(new Error(`status ${statusCode}`), { statusCode })

/** engine fakes Docker's containers by name: create (409 when the name is taken), start (404 when there is none, or `startFails`), remove. */
function engine(existing: string[], startFails = new Set<string>()): { docker: Docker; calls: string[] } {
  const calls: string[] = []
  const names = new Set(existing)
  const container = (name: string) => ({
    start: async () => {
      calls.push(`start ${name}`)
      if (!names.has(name)) throw failing(404)
      if (startFails.has(name)) {
        startFails.delete(name)
        throw failing(500)
      }
    },
    remove: async () => {
      calls.push(`remove ${name}`)
      if (!names.delete(name)) throw failing(404)
    },
    inspect: async () => ({ State: { Status: 'created' } }),
  })
  const docker = {
    getContainer: container,
    createContainer: async (o: { name: string }) => {
      calls.push(`create ${o.name}`)
      if (names.has(o.name)) throw failing(409)
      names.add(o.name)
      return container(o.name)
    },
  } as unknown as Docker
  return { docker, calls }
}

describe('a pod created ahead of its update', () => {
  let dir = ''
  const plan = podPlan(ds({ containers: [{ name: 'main', image: 'app:2' }, { name: 'side', image: 'app:2' }] }, { metadata: { name: 'w' } }), node('host-1'))
  const [main, side] = plan.containers.map((c) => c.create.name) as [string, string]
  const starter = (docker: Docker): PodStarter => {
    const call: EngineCall = (_what, fn) => fn(new AbortController().signal)
    const t = withTimings().runtime
    return new PodStarter(docker, new DockerImages(docker, new Limiter(2), t, call), new PodVolumes(join(dir, 'pods'), join(dir, 'secrets')), t, pino({ level: 'silent' }), call, call)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dm-pod-start-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('preparePod creates every container and starts none; one that exists already is left as it is', async () => {
    const e = engine([side])
    assert.equal(await starter(e.docker).preparePod(plan), true)
    assert.deepEqual(e.calls, [`create ${main}`, `create ${side}`])
  })

  it('a pod with init containers is not prepared: they run before its containers exist', async () => {
    const withInit = podPlan(ds({ initContainers: [{ name: 'setup', image: 'app:2' }], containers: [{ name: 'main', image: 'app:2' }] }, { metadata: { name: 'w' } }), node('host-1'))
    const e = engine([])
    assert.equal(await starter(e.docker).preparePod(withInit), false)
    assert.deepEqual(e.calls, [])
  })

  /** prepared returns a starter that created the plan's pod ahead (its calls left out), Docker then holding only `keep` of it. */
  const prepared = async (keep: string[], startFails = new Set<string>()): Promise<{ s: PodStarter; calls: string[] }> => {
    const e = engine([], startFails)
    const s = starter(e.docker)
    await s.preparePod(plan)
    for (const name of [main, side]) if (!keep.includes(name)) await e.docker.getContainer(name).remove()
    e.calls.length = 0
    return { s, calls: e.calls }
  }

  it('under the slot, its containers are started at once, not created', async () => {
    const { s, calls } = await prepared([main, side])
    await s.startPod(plan, { pulled: true })
    assert.deepEqual(calls, [`start ${main}`, `start ${side}`])
  })

  it('a prepared container that is gone (removed by hand) is created, then started', async () => {
    const { s, calls } = await prepared([side])
    await s.startPod(plan, { pulled: true })
    assert.deepEqual(calls, [`start ${main}`, `create ${main}`, `start ${main}`, `start ${side}`])
  })

  it('one that Docker no longer lists is forgotten: its start creates first, as any start', async () => {
    const { s, calls } = await prepared([side])
    s.forgetGone(new Set([side]))
    await s.startPod(plan, { pulled: true })
    assert.deepEqual(calls, [`create ${main}`, `start ${main}`, `start ${side}`])
  })

  it('a prepared container that will not start is replaced: removed, created and started again', async () => {
    const { s, calls } = await prepared([main, side], new Set([main]))
    await s.startPod(plan, { pulled: true })
    assert.deepEqual(calls, [`start ${main}`, `remove ${main}`, `create ${main}`, `start ${main}`, `start ${side}`])
  })

  it('a pod not prepared: a start creates first, as before', async () => {
    const e = engine([])
    await starter(e.docker).startPod(plan, { pulled: true })
    assert.deepEqual(e.calls, [`create ${main}`, `start ${main}`, `create ${side}`, `start ${side}`])
  })
})
