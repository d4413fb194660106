import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_UNKNOWN_FIELDS, checkNodeRecord, type NodeRecord } from '../../../core/node-record.js'

const record = (o: Partial<NodeRecord> = {}): NodeRecord => ({
  name: 'host-1',
  peerId: 'peer',
  addresses: [],
  labels: {},
  taints: [],
  conditions: [],
  version: '0.1.0',
  state: 'alive',
  startedAt: 1,
  incarnation: 0,
  pods: {},
  ...o,
})

describe('node records: pod workers', () => {
  it('a record without workers is valid (none busy, or an agent from before workers were reported)', () => {
    assert.deepEqual(checkNodeRecord(record()), [])
  })

  it('busy workers are carried by DaemonSet', () => {
    assert.deepEqual(checkNodeRecord(record({ workers: { 'default/slow': { doing: 'Stopping (grace 30 s)', since: 5 } } })), [])
  })

  it('what a worker does is bounded', () => {
    const issues = checkNodeRecord(record({ workers: { 'default/slow': { doing: 'x'.repeat(201), since: 5 } } }))
    assert.match(issues.map((i) => i.path).join(' '), /workers\.default\/slow\.doing/)
  })

  it('so is the number of workers, and their fields', () => {
    const many = Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`default/d${i}`, { doing: 'Starting', since: 1 }]))
    assert.match(checkNodeRecord(record({ workers: many }))[0]?.message ?? '', /at most 1024 workers/)
    assert.notDeepEqual(checkNodeRecord(record({ workers: { 'default/a': { doing: 'Starting', since: -1 } } })), [])
    // Fields of later versions (docs/compatibility.md): a few are carried, more are refused.
    const extra = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`later${i}`, i]))
    assert.deepEqual(checkNodeRecord({ ...record(), workers: { 'default/a': { doing: 'Starting', since: 1, ...extra(MAX_UNKNOWN_FIELDS) } } }), [])
    assert.match(checkNodeRecord({ ...record(), workers: { 'default/a': { doing: 'Starting', since: 1, ...extra(MAX_UNKNOWN_FIELDS + 1) } } })[0]?.message ?? '', /at most 16 fields of later versions/)
  })

  it('a record of a later version: unknown fields at any level are accepted (bounded), known ones still checked', () => {
    const later = { ...record({ pods: { 'default/a': { revision: 'r', phase: 'Running', ready: true, restarts: 0, since: 1, newPodField: 'x' } } }), newTopField: { any: ['thing'] } }
    assert.deepEqual(checkNodeRecord(later), [])
    assert.match(checkNodeRecord({ ...record(), ...Object.fromEntries(Array.from({ length: MAX_UNKNOWN_FIELDS + 1 }, (_, i) => [`f${i}`, 1])) })[0]?.message ?? '', /at most 16 fields of later versions/)
    assert.notDeepEqual(checkNodeRecord({ ...later, version: 7 }), [])
  })
})
