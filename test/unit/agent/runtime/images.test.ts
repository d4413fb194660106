// Creating from an image that may be missing: the create first, the pull policy only when
// Docker answers 404, as `docker run` does. A fake engine: plain data, no Docker.

import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import type Docker from 'dockerode'
import { withTimings } from '../../../../agent/defaults.js'
import { DockerImages } from '../../../../agent/runtime/images.js'
import { Limiter } from '../../../../agent/runtime/limiter.js'

const notFound = (what: string): Error => Object.assign(new Error(`no such ${what}`), { statusCode: 404 })

/** engine fakes what DockerImages asks of Docker: an image inspect, a pull whose progress ends at once (it makes the image present unless `pullFails`). */
function engine(present: boolean, pullFails = false): { images: DockerImages; calls: string[]; isPresent: () => boolean } {
  const calls: string[] = []
  const docker = {
    getImage: (name: string) => ({
      inspect: async () => {
        calls.push(`inspect ${name}`)
        if (!present) throw notFound('image')
        return {}
      },
    }),
    pull: async (name: string) => {
      calls.push(`pull ${name}`)
      return new PassThrough()
    },
    modem: {
      followProgress: (_s: unknown, done: (err: Error | null) => void) => {
        if (!pullFails) present = true
        done(pullFails ? new Error('registry unreachable') : null)
      },
    },
  } as unknown as Docker
  const images = new DockerImages(docker, new Limiter(2), withTimings().runtime, (_what, fn) => fn(new AbortController().signal))
  return { images, calls, isPresent: () => present }
}

describe('creating a container from an image', () => {
  it('an image that is here: the create alone, no inspect', async () => {
    const { images, calls } = engine(true)
    const made = await images.creating('app:1', 'IfNotPresent', undefined, async () => (calls.push('create'), 'c1'))
    assert.equal(made, 'c1')
    assert.deepEqual(calls, ['create'])
  })

  it('IfNotPresent and no image: the create fails with 404, the image is pulled, the create runs again', async () => {
    const e = engine(false)
    const create = async (): Promise<string> => {
      e.calls.push('create')
      if (!e.isPresent()) throw notFound('image')
      return 'c1'
    }
    assert.equal(await e.images.creating('app:1', 'IfNotPresent', undefined, create), 'c1')
    assert.deepEqual(e.calls, ['create', 'inspect app:1', 'pull app:1', 'create'])
  })

  it('Never and no image: ImagePullError, nothing pulled, no second create', async () => {
    const e = engine(false)
    await assert.rejects(e.images.creating('app:1', 'Never', undefined, async () => (e.calls.push('create'), Promise.reject(notFound('image')))), { name: 'ImagePullError', message: /not present and imagePullPolicy is Never/ })
    assert.deepEqual(e.calls, ['create', 'inspect app:1'])
  })

  it('a pull that fails is ErrImagePull', async () => {
    const e = engine(false, true)
    await assert.rejects(e.images.creating('app:1', 'IfNotPresent', undefined, async () => (e.calls.push('create'), Promise.reject(notFound('image')))), { name: 'ImagePullError', message: /pulling app:1: registry unreachable/ })
  })

  it('a 404 for something else than the image: the image is found, the create fails again with its own error', async () => {
    const e = engine(true)
    await assert.rejects(e.images.creating('app:1', 'IfNotPresent', undefined, async () => (e.calls.push('create'), Promise.reject(notFound('network')))), /no such network/)
    assert.deepEqual(e.calls, ['create', 'inspect app:1', 'create'])
  })

  it('any other failure of the create is its own: no inspect', async () => {
    const e = engine(true)
    await assert.rejects(e.images.creating('app:1', 'IfNotPresent', undefined, async () => (e.calls.push('create'), Promise.reject(Object.assign(new Error('conflict'), { statusCode: 409 })))), /conflict/)
    assert.deepEqual(e.calls, ['create'])
  })
})
