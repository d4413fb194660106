import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { canonicalJson } from '../../../core/canonical.js'
import { parseDaemonSet } from '../../../core/manifest.js'
import { revisionOf, templateHash } from '../../../core/revision.js'
import { ds, rawDs } from '../../helpers/fixtures.js'

function shuffleKeys(v: unknown, seed: number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, seed))
  if (typeof v !== 'object' || v === null) return v
  const entries = Object.entries(v)
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown])
  return Object.fromEntries(rotated.reverse().map(([k, x]) => [k, shuffleKeys(x, seed + 1)]))
}

describe('revisions', () => {
  it('the same template in any key order has the same hash', () => {
    const base = ds({ hostNetwork: true, nodeSelector: { a: 'b', c: 'd' }, containers: [{ name: 'c', image: 'i:1', env: [{ name: 'X', value: '1' }] }] })
    for (let seed = 1; seed < 6; seed++) {
      assert.equal(templateHash(shuffleKeys(base.spec.template, seed) as typeof base.spec.template), revisionOf(base))
    }
  })

  it('canonical JSON does not depend on key order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.nat(5), (obj, seed) => {
        assert.equal(canonicalJson(shuffleKeys(obj, seed)), canonicalJson(obj))
      }),
    )
  })

  it('a template change changes the hash', () => {
    assert.notEqual(revisionOf(ds({ containers: [{ name: 'c', image: 'i:1' }] })), revisionOf(ds({ containers: [{ name: 'c', image: 'i:2' }] })))
  })

  it('spec fields outside the template do not change the hash', () => {
    const a = ds()
    const b = ds({}, { spec: { minReadySeconds: 30, updateStrategy: { type: 'OnDelete' } } })
    assert.equal(revisionOf(a), revisionOf(b))
  })

  it('defaulted and explicit defaults hash the same', () => {
    const explicit = parseDaemonSet(rawDs({ restartPolicy: 'Always', terminationGracePeriodSeconds: 30, containers: [{ name: 'main', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }] })).daemonSet
    assert.ok(explicit)
    assert.equal(revisionOf(explicit), revisionOf(ds()))
  })

  it('hashes are 10 characters without vowels', () => {
    assert.match(revisionOf(ds()), /^[bcdfghjklmnpqrstvwxz2456789]{10}$/)
  })
})
