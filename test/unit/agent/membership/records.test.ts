import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import { MAX_PENDING_RECORDS, NodeRecords, type RecordGate } from '../../../../agent/membership/records.js'
import { signEnvelope } from '../../../../core/envelope.js'
import { keyId } from '../../../../core/keys.js'
import type { NodeRecord } from '../../../../core/node-record.js'

const key = (): KeyObject => generateKeyPairSync('ed25519').privateKey
const record = (name: string, peerId: string): NodeRecord => ({ name, peerId, addresses: [], labels: {}, taints: [], conditions: [], version: 'x', state: 'alive', startedAt: 1, incarnation: 0, pods: {} })
let wall = 1_800_000_000_000
const envOf = (k: KeyObject, name: string): unknown => signEnvelope(`node/${keyId(k)}`, record(name, `peer-${keyId(k)}`), { wall: wall++, logical: 0 }, k)

/** gate admits the keys in `members` and binds the names in `bound`; a record must name peer-KEYID. */
function gate(members: Set<string>, bound: Map<string, string> = new Map()): RecordGate {
  return {
    refuse: (k, r) => (r.peerId !== `peer-${k}` ? 'names another peer' : bound.has(r.name) && bound.get(r.name) !== k ? 'name admitted for another key' : undefined),
    boundKey: (name) => bound.get(name),
    admitted: (k) => members.has(k),
  }
}

describe('node records with admission', () => {
  const self = key()

  it('a record naming another peer than its key is refused', () => {
    const k = key()
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => false, gate(new Set()))
    const env = signEnvelope(`node/${keyId(k)}`, record('edge-1', 'peer-someone-else'), { wall: wall++, logical: 0 }, k)
    assert.deepEqual(book.merge(env), { status: 'rejected', reason: 'names another peer' })
  })

  it('two keys that are not members may both ask for a name', () => {
    const [a, b] = [key(), key()]
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => false, gate(new Set()))
    assert.equal(book.merge(envOf(a, 'edge-1')).status, 'applied')
    assert.equal(book.merge(envOf(b, 'edge-1')).status, 'applied')
  })

  it('a member keeps its name from a key that is not one, even while Left', () => {
    const [member, squatter] = [key(), key()]
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => true, gate(new Set([keyId(member)])))
    assert.equal(book.merge(envOf(member, 'edge-1')).status, 'applied')
    assert.deepEqual(book.merge(envOf(squatter, 'edge-1')), { status: 'rejected', reason: 'node record claims the name of an admitted node' })
  })

  it('a member takes a name from a pending key that claimed it first', () => {
    const [squatter, member] = [key(), key()]
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => false, gate(new Set([keyId(member)])))
    assert.equal(book.merge(envOf(squatter, 'edge-1')).status, 'applied')
    assert.equal(book.merge(envOf(member, 'edge-1')).status, 'applied')
  })

  it('without admission (open) names stay first-come while their owner lives', () => {
    const [a, b] = [key(), key()]
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => false, gate(new Set([keyId(a), keyId(b)])))
    assert.equal(book.merge(envOf(a, 'edge-1')).status, 'applied')
    assert.equal(book.merge(envOf(b, 'edge-1')).status, 'rejected')
  })

  it('pending records are bounded: past the bound a new pending key is refused, members and known keys still merge, and an admission frees places', () => {
    const members = new Set<string>()
    const book = new NodeRecords({ keyId: keyId(self), name: 'self' }, () => false, gate(members))
    const keys = Array.from({ length: MAX_PENDING_RECORDS }, key)
    for (const [i, k] of keys.entries()) assert.equal(book.merge(envOf(k, `p-${i}`)).status, 'applied')
    assert.equal(book.pendingCount, MAX_PENDING_RECORDS)
    assert.deepEqual(book.merge(envOf(key(), 'late')), { status: 'rejected', reason: `too many pending hosts (${MAX_PENDING_RECORDS}): approve or delete some` })
    // A pending key already held sends a newer record: taken. A member is never refused for room.
    assert.equal(book.merge(envOf(keys[0] as KeyObject, 'p-0')).status, 'applied')
    const member = key()
    members.add(keyId(member))
    assert.equal(book.merge(envOf(member, 'edge-1')).status, 'applied')
    // Two pending keys are admitted (approve node): recount frees their places.
    members.add(keyId(keys[1] as KeyObject))
    members.add(keyId(keys[2] as KeyObject))
    book.recount()
    assert.equal(book.pendingCount, MAX_PENDING_RECORDS - 2)
    assert.equal(book.merge(envOf(key(), 'late')).status, 'applied')
    // Forgetting a pending key frees its place too.
    book.forget(keyId(keys[3] as KeyObject))
    assert.equal(book.pendingCount, MAX_PENDING_RECORDS - 2)
  })
})
