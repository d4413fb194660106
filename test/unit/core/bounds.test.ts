import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_ENVELOPE_BYTES, MAX_WALL_MS, checkEnvelopeBounds } from '../../../core/bounds.js'
import { checkStoreValue } from '../../../core/admission.js'
import { checkNodeRecord, checkRecordTimes, type NodeRecord } from '../../../core/node-record.js'

const NOW = 1_700_000_000_000
const env = (hlc: string, value: unknown = {}) => ({ key: 'ds/default/x', op: 'put', value, hlc, author: 'a'.repeat(43), sig: 's'.repeat(86) })
const record = (over: Partial<NodeRecord> = {}): NodeRecord => ({ name: 'n', peerId: 'p', addresses: [], labels: {}, taints: [], conditions: [], version: 'v', state: 'alive', startedAt: NOW, incarnation: 0, pods: {}, ...over })

describe('bounds at the border', () => {
  const cases: [string, unknown, RegExp | undefined][] = [
    ['an envelope of now is taken', env(`${NOW}.000000`.padStart(22, '0')), undefined],
    ['an envelope 59 s ahead is taken', env(`${NOW + 59_000}.000000`.padStart(22, '0')), undefined],
    ['an envelope 61 s ahead is refused', env(`${NOW + 61_000}.000000`.padStart(22, '0')), /more than 60 s ahead/],
    ['the largest HLC is refused', env('999999999999999.999999'), /ahead/],
    ['an envelope over 256 KiB is refused', env(`${NOW}.000000`.padStart(22, '0'), { blob: 'x'.repeat(MAX_ENVELOPE_BYTES) }), /exceeds 262144 bytes/],
    ['a malformed input passes (the envelope check names its fault)', 'not an envelope', undefined],
  ]
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = checkEnvelopeBounds(input, NOW)
      if (want === undefined) assert.equal(got, undefined)
      else assert.match(got ?? '', want)
    })
  }

  it('every number in a node record is bounded: startedAt 1e300, a restart count of 2^40, a pod since 1e300 are invalid', () => {
    assert.deepEqual(checkNodeRecord(record()), [])
    assert.equal(checkNodeRecord(record({ startedAt: 1e300 }))[0]?.path, 'startedAt')
    assert.equal(checkNodeRecord(record({ startedAt: MAX_WALL_MS + 1 }))[0]?.path, 'startedAt')
    assert.ok(checkNodeRecord(record({ pods: { 'default/x': { revision: 'r', phase: 'Running', ready: true, restarts: 2 ** 40, since: 0 } } })).length > 0)
    assert.ok(checkNodeRecord(record({ pods: { 'default/x': { revision: 'r', phase: 'Running', ready: true, restarts: 0, since: 1e300 } } })).length > 0)
  })

  it('record times more than 60 s ahead of the receiver are named', () => {
    assert.equal(checkRecordTimes(record(), NOW), undefined)
    assert.match(checkRecordTimes(record({ startedAt: NOW + 120_000 }), NOW) ?? '', /^startedAt: .* ahead/)
    assert.match(checkRecordTimes(record({ pods: { 'default/x': { revision: 'r', phase: 'Running', ready: true, restarts: 0, since: NOW + 120_000 } } }), NOW) ?? '', /^pods\.default\/x\.since/)
  })

  it('an overlay follows the record\'s own rules', () => {
    const o = (x: Record<string, unknown>) => ({ labels: {}, removeLabels: [], taints: [], removeTaints: [], ...x })
    assert.equal(checkStoreValue('nodes/n', 'put', o({ labels: { zone: 'a' }, taints: [{ key: 'k', effect: 'NoSchedule' }] })), undefined)
    assert.match(checkStoreValue('nodes/n', 'put', o({ labels: { 'bad key!': 'v' } })) ?? '', /Invalid value: "bad key!"/)
    assert.match(checkStoreValue('nodes/n', 'put', o({ taints: [{ key: 'k', effect: 'Bogus' }] })) ?? '', /Unsupported value: "Bogus"/)
    assert.match(checkStoreValue('nodes/n', 'put', o({ labels: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`l${i}`, 'v'])) })) ?? '', /at most 128 labels/)
  })

  it('a slot release request is {kind, slot, term, revision}', () => {
    assert.equal(checkStoreValue('release/default/x/n', 'put', { kind: 'unavailable', slot: 0, term: 3, revision: 'abc' }), undefined)
    assert.match(checkStoreValue('release/default/x/n', 'put', { kind: 'unavailable', slot: 0, term: 0, revision: 'abc' }) ?? '', /invalid slot release/)
    assert.match(checkStoreValue('release/default/x/n', 'delete', { x: 1 }) ?? '', /carries nothing/)
  })
})
