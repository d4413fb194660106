import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StoreKey, parseDsKey } from '../../../../core/keyspace.js'
import { committeeOf, viewOf } from '../../../../core/lease.js'
import type { NodeRecord, PodStatus } from '../../../../core/node-record.js'
import { revisionOf } from '../../../../core/revision.js'
import type { DaemonSet } from '../../../../core/types.js'
import { FleetView } from '../../../../agent/lease/fleet-view.js'
import type { Membership, NodeState, NodeView } from '../../../../agent/membership/membership.js'
import type { Store } from '../../../../agent/store/store.js'
import { DS, FakeFleet, daemonSet, key } from './fakes.js'

/** view builds a FleetView over plain nodes and DaemonSets, with maps that answer like LwwMap. */
function view(nodes: { keyId: string; name: string; state: NodeState; version?: string; pods?: Record<string, { revision: string; ready: boolean } & Partial<PodStatus>> }[], dss: DaemonSet[], committee?: number) {
  const fake = new FakeFleet(nodes.map((n) => ({ keyId: n.keyId, name: n.name, state: n.state, pods: n.pods ?? {}, ...(n.version === undefined ? {} : { version: n.version }) })))
  const recs = new Map<string, NodeRecord>(nodes.map((n) => [StoreKey.nodeRecord(n.keyId), fake.record(n.keyId)!]))
  const views: NodeView[] = nodes.map((n) => ({ record: recs.get(StoreKey.nodeRecord(n.keyId))!, keyId: n.keyId, state: n.state, lastSeen: 0 }))
  const membership = { nodes: () => views, records: { value: (k: string) => recs.get(k), get: (k: string) => (recs.has(k) ? {} : undefined) } } as unknown as Pick<Membership, 'nodes' | 'records'>
  const store = { map: { value: (k: string) => dss.find((d) => StoreKey.daemonSet(parseDsKey(`${d.metadata.namespace ?? 'default'}/${d.metadata.name}`)!) === k) } } as unknown as Pick<Store, 'map'>
  return new FleetView(membership, store, committee === undefined ? {} : { committee })
}

const A = key('a')
const B = key('b')
const C = key('c')

describe('lease fleet view (over membership and store)', () => {
  it('reads the DaemonSet and its revision through the store keyspace', () => {
    const d = daemonSet()
    const f = view([{ keyId: A, name: 'a', state: 'Alive' }], [d])
    assert.equal(f.daemonSet(DS), d)
    assert.equal(f.revision(DS), revisionOf(d))
    assert.equal(f.daemonSet('default/other'), undefined)
    assert.equal(f.daemonSet('not a key'), undefined)
  })

  it('the voter set is every member that has not left; members are those with a record', () => {
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive' },
        { keyId: B, name: 'b', state: 'Unreachable' },
        { keyId: C, name: 'c', state: 'Left' },
      ],
      [],
    )
    assert.deepEqual(f.voters(), [A, B])
    assert.equal(f.voterView(A).view, viewOf([A, B]).view)
    assert.equal(f.isMember(C), true)
    assert.equal(f.isMember(key('z')), false)
    assert.equal(f.nameOf(B), 'b')
  })

  it('finds a member’s peer and addresses from its record', () => {
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive' },
        { keyId: B, name: 'b', state: 'Unreachable' },
      ],
      [],
    )
    assert.deepEqual(f.peerOf(B), { peerId: 'peer-b', addresses: ['/memory/peer-b/p2p/peer-b'] })
    assert.equal(f.peerOf(key('z')), undefined)
  })

  it('limits come from the strategy over the hosts that should run it; OnDelete has none', () => {
    const nodes = [
      { keyId: A, name: 'a', state: 'Alive' as const },
      { keyId: B, name: 'b', state: 'Alive' as const },
    ]
    assert.equal(view(nodes, [daemonSet()]).limit(DS, 'unavailable'), 1)
    assert.equal(view(nodes, [daemonSet()]).limit(DS, 'surge'), 0)
    const onDelete = { ...daemonSet(), spec: { ...daemonSet().spec, updateStrategy: { type: 'OnDelete' as const } } } as DaemonSet
    assert.equal(view(nodes, [onDelete]).limit(DS, 'unavailable'), 0)
  })

  it('counts Alive hosts whose copy is not ready as unavailable (Unreachable ones are not counted)', () => {
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive', pods: { [DS]: { revision: 'r1', ready: false } } },
        { keyId: B, name: 'b', state: 'Unreachable', pods: { [DS]: { revision: 'r1', ready: false } } },
        { keyId: C, name: 'c', state: 'Alive', pods: { [DS]: { revision: 'r1', ready: true } } },
      ],
      [daemonSet()],
    )
    assert.equal(f.voterView(A).unavailable(DS, new Set()), 1)
    assert.equal(f.voterView(A).unavailable(DS, new Set([A])), 0)
  })

  it('the committee: every voter in a fleet within its size; past it, only those committeeOf picks vote', () => {
    const nodes = [A, B, C].map((k, i) => ({ keyId: k, name: `n${i}`, state: 'Alive' as const }))
    assert.deepEqual(view(nodes, [daemonSet()]).committee(DS), [A, B, C].sort())
    const f = view(nodes, [daemonSet()], 2)
    const c = committeeOf([A, B, C], DS, 2)
    assert.deepEqual(f.committee(DS), c)
    for (const k of [A, B, C]) assert.equal(f.voterView(k).onCommittee(DS), c.includes(k), k)
    assert.equal(f.voterView(A).view, viewOf([A, B, C], 1, 2).view)
  })

  it('while a voter runs an agent from before committees, every voter votes and no slot is reported', () => {
    const nodes = [A, B, C].map((k, i) => ({ keyId: k, name: `n${i}`, state: 'Alive' as const, ...(i === 2 ? { version: '0.1.0' } : {}) }))
    const f = view(nodes, [daemonSet()], 2)
    assert.equal(f.reportsSlots(), false)
    assert.deepEqual(f.committee(DS), [A, B, C].sort())
    assert.equal(f.voterView(A).view, viewOf([A, B, C], 1).view, 'the view hashes as the older agent does')
    for (const k of [A, B, C]) assert.equal(f.voterView(k).onCommittee(DS), true)
    const left = view([...nodes.slice(0, 2), { ...nodes[2]!, state: 'Left' as const }], [daemonSet()], 2)
    assert.equal(left.reportsSlots(), true, 'one that left does not count')
  })

  it('reported holds: the slots Alive hosts’ records say they hold, until they report the new copy available', () => {
    const d = daemonSet()
    const r = revisionOf(d)
    const slot = (n: number, term: number) => ({ kind: 'unavailable' as const, slot: n, term })
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive', pods: { [DS]: { revision: 'old', ready: false, updateSlot: slot(0, 7) } } },
        { keyId: B, name: 'b', state: 'Alive', pods: { [DS]: { revision: r, ready: true, available: true, updateSlot: slot(1, 8) } } },
        { keyId: C, name: 'c', state: 'Unreachable', pods: { [DS]: { revision: 'old', ready: false, updateSlot: slot(2, 9) } } },
        { keyId: key('d'), name: 'd', state: 'Alive', pods: { [DS]: { revision: r, ready: false, updateSlot: { kind: 'surge', slot: 0, term: 3 } } } },
      ],
      [d],
    )
    assert.deepEqual(f.reportedHolds(DS, 'unavailable'), [{ holder: A, slot: 0, term: 7 }], 'not one done (b), not an Unreachable host (c)')
    assert.deepEqual(f.reportedHolds(DS, 'surge'), [{ holder: key('d'), slot: 0, term: 3 }])
    assert.deepEqual(f.reportedHolds('default/other', 'unavailable'), [])
  })

  it('a host’s turn is its place by name among the Alive hosts still to update', () => {
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive', pods: { [DS]: { revision: 'new', ready: true } } },
        { keyId: B, name: 'b', state: 'Alive', pods: { [DS]: { revision: 'old', ready: true } } },
        { keyId: C, name: 'c', state: 'Alive', pods: { [DS]: { revision: 'old', ready: true } } },
      ],
      [daemonSet()],
    )
    assert.equal(f.turn(DS, 'new', 'c'), 1)
    assert.equal(f.turn(DS, 'new', 'b'), 0)
    assert.equal(f.turn(DS, 'new', 'a'), 0, 'a host already updated is not waiting')
  })

  it('the head of the line is the first hosts still to update, by name, less those moving', () => {
    const f = view(
      [
        { keyId: A, name: 'a', state: 'Alive', pods: { [DS]: { revision: 'new', ready: true } } },
        { keyId: C, name: 'c', state: 'Alive', pods: { [DS]: { revision: 'old', ready: true } } },
        { keyId: B, name: 'b', state: 'Alive', pods: { [DS]: { revision: 'old', ready: true } } },
        { keyId: key('d'), name: 'd', state: 'Unreachable', pods: { [DS]: { revision: 'old', ready: true } } },
        { keyId: key('e'), name: 'e', state: 'Alive', pods: { [DS]: { revision: 'old', ready: true } } },
      ],
      [daemonSet()],
    )
    assert.deepEqual(f.head(DS, 'new', 2), [B, C])
    assert.deepEqual(f.head(DS, 'new', 5), [B, C, key('e')], 'not one updated (a), not an Unreachable host (d)')
    assert.deepEqual(f.head(DS, 'new', 2, new Set([B])), [C, key('e')])
    assert.deepEqual(f.head('default/other', 'new', 2), [])
  })
})
