import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { Admission } from '../../../agent/admission.js'
import { LwwMap } from '../../../core/crdt.js'
import { keyId } from '../../../core/keys.js'
import { signJoinToken, type Join } from '../../../core/node-admission.js'
import type { NodeRecord } from '../../../core/node-record.js'

const operator = generateKeyPairSync('ed25519').privateKey
const T0 = 1_800_000_000_000
const token = signJoinToken({ id: 'fleet-token-0123456789', uses: 2, issuedAt: T0, ttlMs: 3_600_000 }, operator)
const record = (name: string, joinedAt: number): NodeRecord => ({ name, peerId: 'p', addresses: [], labels: {}, taints: [], conditions: [], version: 'x', state: 'alive', startedAt: T0, incarnation: 0, pods: {}, join: { token, joinedAt } satisfies Join })
const admission = (): Admission => new Admission({ open: false, store: new LwwMap(() => undefined), trusted: (a) => a === keyId(operator), peerIdOf: () => undefined, wall: () => T0 + 10_000 })

describe('join token uses across the fleet', () => {
  // Three hosts join with a token for two: the first two by join time are members everywhere.
  const hosts = [
    { key: 'k-late', record: record('edge-3', T0 + 3000) },
    { key: 'k-first', record: record('edge-1', T0 + 1000) },
    { key: 'k-second', record: record('edge-2', T0 + 2000) },
  ]

  it('agents that saw the hosts in different orders agree, once each has seen them all', () => {
    const verdicts = [hosts, [...hosts].reverse(), [hosts[1], hosts[0], hosts[2]] as typeof hosts].map((order) => {
      const a = admission()
      for (const h of order) a.verdict(h.key, h.record as NodeRecord)
      return hosts.map((h) => a.admitted(h.key, h.record as NodeRecord))
    })
    for (const v of verdicts) assert.deepEqual(v, [false, true, true])
  })

  it('a host that joins later, or ties on join time with a greater key id, is Pending with the reason', () => {
    const a = admission()
    for (const h of hosts) a.verdict(h.key, h.record as NodeRecord)
    assert.deepEqual(a.verdict('k-late', hosts[0]?.record as NodeRecord), { state: 'pending', why: 'join token used up (2 keys joined with it before this one)' })
    assert.equal(a.admitted('k-0-tie', record('edge-4', T0 + 1000)), true, 'an earlier-ordered key at the same time wins its place')
    assert.equal(a.admitted('k-second', hosts[2]?.record as NodeRecord), false, 'and the second is now third')
  })
})
