import assert from 'node:assert/strict'
import type { KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { AgentClock } from '../../../agent/clock.js'
import { defaultTimings } from '../../../agent/defaults.js'
import { Membership, type NodeState } from '../../../agent/membership/membership.js'
import { Metrics } from '../../../agent/metrics.js'
import { Topics } from '../../../agent/network/constants.js'
import { signEnvelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { StoreKey } from '../../../core/keyspace.js'
import type { NodeRecord } from '../../../core/node-record.js'
import { MemoryHub, type MemoryTransport } from '../../helpers/memory-transport.js'
import { VirtualClock } from '../../helpers/virtual-clock.js'

const HEARTBEAT = 1000
const SUSPICION = 5000
const FORGET = 30_000

interface Member {
  name: string
  keyId: string
  transport: MemoryTransport
  membership: Membership
  metrics: Metrics
  signingKey: KeyObject
}

/** fleet makes members on one hub and one virtual clock; each bootstraps from the first. */
function fleet(...names: string[]): { clock: VirtualClock; hub: MemoryHub; members: Member[] } {
  return fleetWith(undefined, ...names)
}

/** fleetWith is fleet with the members' random source (Math.random when undefined). */
function fleetWith(random: (() => number) | undefined, ...names: string[]): { clock: VirtualClock; hub: MemoryHub; members: Member[] } {
  const clock = new VirtualClock()
  const hub = new MemoryHub(clock)
  const members: Member[] = []
  for (const name of names) {
    const key = generateKeyPair()
    const transport = hub.join(`peer-${name}`, key.id)
    const metrics = new Metrics()
    const signingKey = parsePrivateKey(key.privateKeyPem)
    const membership = new Membership({
      transport,
      clock,
      hlc: new AgentClock(clock),
      signingKey,
      keyId: key.id,
      self: { name, labels: { zone: 'a' }, taints: [], version: 'test' },
      heartbeatMs: HEARTBEAT,
      suspicionMs: SUSPICION,
      forgetMs: FORGET,
      targetPeers: 3,
      bootstrap: members[0]?.transport.addresses() ?? [],
      timings: defaultTimings(),
      metrics,
      log: pino({ level: 'silent' }),
      ...(random === undefined ? {} : { random }),
    })
    members.push({ name, keyId: key.id, transport, membership, metrics, signingKey })
  }
  return { clock, hub, members }
}

/** seen maps each node name to its state, as `m` sees the fleet. */
function seen(m: Member): Record<string, NodeState> {
  return Object.fromEntries(m.membership.nodes().map((n) => [n.record.name, n.state]))
}

const gossip = (data: unknown, from: string, fromKeyId: string) => ({ topic: Topics.nodes, data: new TextEncoder().encode(JSON.stringify(data)), from, fromKeyId })

describe('membership', () => {
  it('two members learn each other’s records within a heartbeat', async () => {
    const { clock, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    await clock.advance(HEARTBEAT)
    assert.deepEqual(seen(a), { a: 'Alive', b: 'Alive' })
    assert.deepEqual(seen(b), { a: 'Alive', b: 'Alive' })
    assert.deepEqual(b.transport.connectedPeers(), ['peer-a'], 'b dialled its bootstrap peer')
    const bAtA = a.membership.nodes().find((n) => n.record.name === 'b')
    assert.equal(bAtA?.record.peerId, 'peer-b')
    assert.deepEqual(bAtA?.record.addresses, b.transport.addresses())
    assert.equal(bAtA?.lastSeen, clock.wall(), 'lastSeen is wall time')
    assert.equal(bAtA?.record.startedAt, Date.UTC(2026, 0, 1), 'startedAt is wall time at start')
    for (const m of members) m.membership.stop()
  })

  it('a silent member becomes Unreachable after the suspicion window and is forgotten after the horizon', async () => {
    const { clock, members } = fleet('a', 'b', 'c')
    const [a, b, c] = members as [Member, Member, Member]
    for (const m of members) m.membership.start()
    await clock.advance(HEARTBEAT)
    assert.deepEqual(seen(a), { a: 'Alive', b: 'Alive', c: 'Alive' })
    // c crashes: no heartbeat, no leave, gone from the network.
    c.membership.stop()
    c.transport.close()
    await clock.advance(SUSPICION - HEARTBEAT)
    assert.equal(seen(a).c, 'Alive', 'still inside the suspicion window')
    await clock.advance(2 * HEARTBEAT)
    assert.equal(seen(a).c, 'Unreachable')
    assert.equal(seen(b).c, 'Unreachable')
    assert.equal(seen(a).b, 'Alive', 'members that keep beating stay Alive')
    await clock.advance(FORGET - SUSPICION)
    assert.deepEqual(seen(a), { a: 'Alive', b: 'Alive' }, 'c is forgotten')
    assert.equal(a.membership.records.get(StoreKey.nodeRecord(c.keyId)), undefined)
    for (const m of members) m.membership.stop()
  })

  it('a clean leave shows Left at once', async () => {
    const { clock, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    await clock.advance(HEARTBEAT)
    let left = false
    const leaving = b.membership.leave().then(() => (left = true))
    await clock.advance(0)
    assert.equal(seen(a).b, 'Left', 'no time has passed')
    assert.equal(left, false, 'leave waits for gossip to carry the announcement')
    await clock.advance(defaultTimings().membership.leaveFlushMs)
    await leaving
    await clock.advance(FORGET / 2)
    assert.equal(seen(a).b, 'Left', 'a left node is not taken for an unreachable one')
    a.membership.stop()
  })

  it('a restarted node whose earlier life signed later (its clock pushed by a peer ahead) signs its record again above that one', async () => {
    const { clock, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    await clock.advance(HEARTBEAT)
    const key = StoreKey.nodeRecord(a.keyId)
    const current = a.membership.records.get(key)
    assert.ok(current)
    const life = current.value as NodeRecord
    // a's previous life said it was leaving with its hybrid clock 45 s ahead (a peer's clock
    // was): b still holds that record, which outranks every record this life signed so far.
    const earlier = signEnvelope(key, { ...life, state: 'left', startedAt: life.startedAt - 60_000 }, { wall: clock.wall() + 45_000, logical: 0 }, a.signingKey)
    assert.equal(b.membership.merge(earlier, 'sync'), 'accept')
    assert.equal(seen(b).a, 'Left')
    assert.equal(a.membership.merge(current, 'sync'), 'ignore', 'its own current record: nothing to do')

    // Anti-entropy brings the earlier life's record back to a: a keeps its own and signs it again above.
    assert.equal(a.membership.merge(earlier, 'sync'), 'ignore', 'not relayed')
    assert.equal(a.membership.records.get(key)?.hlc, current.hlc, 'the earlier life\'s record is not kept, not even for a moment')
    await clock.advance(defaultTimings().membership.recordSpacingMs)
    const again = a.membership.records.get(key)
    assert.ok(again !== undefined && again.hlc > earlier.hlc, `signed above the earlier life's ${earlier.hlc}: ${again?.hlc}`)
    assert.equal((again.value as NodeRecord).state, 'alive')
    assert.equal((again.value as NodeRecord).startedAt, life.startedAt)
    await clock.advance(0)
    assert.equal(seen(b).a, 'Alive', 'b took the new record over the earlier life\'s')
    assert.equal(b.membership.records.get(key)?.hlc, again.hlc)

    // A forgery of a's record with a later time changes nothing at a (nor at b).
    const rogue = parsePrivateKey(generateKeyPair().privateKeyPem)
    const forged = signEnvelope(key, { ...life, state: 'left' }, { wall: clock.wall() + 50_000, logical: 0 }, rogue)
    assert.equal(a.membership.merge(forged, 'sync'), 'reject')
    await clock.advance(defaultTimings().membership.recordSpacingMs)
    assert.equal(a.membership.records.get(key)?.hlc, again.hlc, 'no new signature for a forgery')
    for (const m of members) m.membership.stop()
  })

  it('rejects a record signed by another key, and one relayed by a peer that is not its author', async () => {
    const { clock, hub, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    await clock.advance(HEARTBEAT)
    const genuine = a.membership.records.get(StoreKey.nodeRecord(a.keyId))
    assert.ok(genuine)
    const rogue = generateKeyPair()
    const rogueKey = parsePrivateKey(rogue.privateKeyPem)
    const forgedRecord: NodeRecord = { ...(genuine.value as NodeRecord), labels: { zone: 'evil' } }
    const forged = signEnvelope(StoreKey.nodeRecord(a.keyId), forgedRecord, { wall: clock.wall() + 1, logical: 0 }, rogueKey)
    const before = await b.metrics.rejectedTotal()

    assert.equal(b.membership.validate(gossip(forged, 'peer-rogue', rogue.id)), 'reject', 'a record of a signed by the rogue key')
    assert.equal(b.membership.validate(gossip(genuine, 'peer-rogue', rogue.id)), 'reject', 'a’s own record, published by the rogue')
    assert.equal(b.membership.validate({ ...gossip(genuine, 'peer-rogue', rogue.id), data: new TextEncoder().encode('not json') }), 'reject', 'not JSON')
    assert.equal(await b.metrics.rejectedTotal(), before + 3)
    assert.deepEqual(b.membership.records.get(StoreKey.nodeRecord(a.keyId)), genuine, 'a’s record is untouched')
    assert.equal(b.membership.merge(forged, 'sync'), 'reject', 'anti-entropy applies the same rule')

    // The same forgery, gossiped by a rogue on the network, changes nothing either.
    await hub.join('peer-rogue', rogue.id).publish(Topics.nodes, new TextEncoder().encode(JSON.stringify(forged)))
    await clock.advance(0)
    assert.equal(await b.metrics.rejectedTotal(), before + 5, 'three by hand, one from anti-entropy, one from gossip')
    assert.deepEqual(seen(b), { a: 'Alive', b: 'Alive' })
    assert.equal((b.membership.records.value(StoreKey.nodeRecord(a.keyId)) as NodeRecord).labels.zone, 'a')
    for (const m of members) m.membership.stop()
  })

  it('emits node:self only when its own labels or taints change', async () => {
    const { clock, members } = fleet('a')
    const [a] = members as [Member]
    const events: NodeRecord[] = []
    const off = a.membership.on('node:self', (r) => events.push(r))
    a.membership.start()
    a.membership.update({ pods: {} })
    a.membership.update({ labels: { zone: 'a' } })
    assert.equal(events.length, 0, 'pods and unchanged labels do not change placement')
    a.membership.update({ labels: { zone: 'b' } })
    assert.deepEqual(events.map((r) => r.labels), [{ zone: 'b' }])
    off()
    a.membership.update({ labels: { zone: 'c' } })
    assert.equal(events.length, 1, 'a removed listener hears nothing')
    await clock.advance(HEARTBEAT)
    a.membership.stop()
  })

  it('busy pod workers travel in the record while busy and are left out once all are idle', async () => {
    const { clock, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    // Past the record's second publication (a heartbeat after start) by recordSpacingMs: the next change goes out at once.
    await clock.advance(HEARTBEAT + defaultTimings().membership.recordSpacingMs)
    const atB = (): NodeRecord | undefined => b.membership.nodes().find((n) => n.record.name === 'a')?.record
    // Workers are notes (only people read them): each change goes out within notesSpreadMs.
    const spread = defaultTimings().membership.notesSpreadMs
    a.membership.setPods({}, { 'default/slow': { doing: 'Stopping (grace 30 s)', since: 5 } })
    await clock.advance(spread)
    assert.deepEqual(atB()?.workers, { 'default/slow': { doing: 'Stopping (grace 30 s)', since: 5 } })
    a.membership.setPods({}, {})
    await clock.advance(spread)
    assert.equal(atB()?.workers, undefined)
    assert.equal('workers' in a.membership.self(), false, 'no empty field in the record')
    for (const m of members) m.membership.stop()
  })

  it('a change within recordSpacingMs of the last publication goes out at the end of that window, with every change made meanwhile', async () => {
    const { clock, members } = fleet('a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    const spacing = defaultTimings().membership.recordSpacingMs
    await clock.advance(HEARTBEAT + spacing)
    const atB = (): NodeRecord | undefined => b.membership.nodes().find((n) => n.record.name === 'a')?.record
    const pod = (revision: string, ready: boolean) => ({ 'default/d': { revision, phase: 'Running' as const, ready, restarts: 0, since: 1 } })
    a.membership.setPods(pod('r1', false))
    await clock.advance(10)
    assert.equal(atB()?.pods['default/d']?.ready, false, 'the first change is published at once')
    a.membership.setPods(pod('r2', false))
    a.membership.setPods(pod('r2', true))
    await clock.advance(10)
    assert.equal(atB()?.pods['default/d']?.revision, 'r1', 'held back: the last publication is 10 ms old')
    await clock.advance(spacing)
    assert.deepEqual(atB()?.pods['default/d'], { ...pod('r2', true)['default/d'] }, 'both changes, in one publication at the end of the window')
    await clock.advance(spacing)
    a.membership.setPods(pod('r3', true))
    await clock.advance(10)
    assert.equal(atB()?.pods['default/d']?.revision, 'r3', 'a window later: at once again')
    for (const m of members) m.membership.stop()
  })

  it('a change of notes only (a waiting reason, workers, events) goes out after a random part of notesSpreadMs, and any other change brings it forward', async () => {
    // The random source draws 0.5: half of notesSpreadMs.
    const { clock, members } = fleetWith(() => 0.5, 'a', 'b')
    const [a, b] = members as [Member, Member]
    for (const m of members) m.membership.start()
    const { recordSpacingMs: spacing, notesSpreadMs: spread } = defaultTimings().membership
    await clock.advance(HEARTBEAT + spacing)
    const atB = (): NodeRecord | undefined => b.membership.nodes().find((n) => n.record.name === 'a')?.record
    const pod = (revision: string, waiting?: string) => ({ 'default/d': { revision, phase: 'Running' as const, ready: true, restarts: 0, since: 1, ...(waiting === undefined ? {} : { waiting }) } })
    a.membership.setPods(pod('r1'))
    await clock.advance(spacing + 10)
    assert.equal(atB()?.pods['default/d']?.revision, 'r1', 'a copy that changed: at once')
    // A template change: the copy says why it waits, and its worker pulls the new images.
    a.membership.setPods(pod('r1', 'waiting for an update slot'), { 'default/d': { doing: 'Pulling the images of revision r2', since: 5 } })
    await clock.advance(spread / 2 - 50)
    assert.equal(atB()?.pods['default/d']?.waiting, undefined, 'notes only: held back')
    await clock.advance(100)
    assert.equal(atB()?.pods['default/d']?.waiting, 'waiting for an update slot', 'out after half of notesSpreadMs')
    assert.deepEqual(atB()?.workers, { 'default/d': { doing: 'Pulling the images of revision r2', since: 5 } })
    // A window later, notes again, then a change other hosts decide on: that one goes out at
    // once, with the notes.
    await clock.advance(spacing)
    a.membership.setPods(pod('r1', 'waiting for an update slot'), {})
    a.membership.setPods(pod('r2'), {})
    await clock.advance(10)
    assert.deepEqual(atB()?.pods['default/d'], pod('r2')['default/d'])
    assert.equal(atB()?.workers, undefined)
    for (const m of members) m.membership.stop()
  })
})
