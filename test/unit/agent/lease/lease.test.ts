import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { leaseMessageSchema, type LeaseMessage } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Lease, MAX_LEASE_FRAME_BYTES } from '../../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import { LEASE_PROTOCOL } from '../../../../agent/network/constants.js'
import { MemoryHub } from '../../../helpers/memory-transport.js'
import { DS, flush, logSink, peerIdOf } from './fakes.js'
import { A, B, V, countingMetrics, voterOnHub } from './on-hub.js'


const LIMITS = { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: defaultTimings().lease.exchangeTimeoutMs }

/** Exchange is what a peer saw of one request it sent V: the answer, or how the channel ended without one. */
type Exchange = { reply: LeaseMessage } | { ended: 'closed' | 'reset' }

function setup() {
  const v = voterOnHub()
  const { peers, transport } = v
  /** replies lists every answer V wrote back, in order. */
  const replies: LeaseMessage[] = []
  /** deliver sends `body` to V on a channel of its own from peer `from` and returns what came back. */
  const deliver = async (from: keyof typeof peers, body: unknown): Promise<Exchange> => {
    const channel = await peers[from].open(transport.peerId, LEASE_PROTOCOL, LIMITS, transport.addresses())
    await channel.write(new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body)))
    try {
      const reply = leaseMessageSchema.parse(JSON.parse(new TextDecoder().decode(await channel.read())))
      replies.push(reply)
      return { reply }
    } catch (err) {
      return { ended: /reset/.test((err as Error).message) ? 'reset' : 'closed' }
    } finally {
      await channel.close().catch(() => undefined)
      await flush()
    }
  }
  return { ...v, replies, deliver }
}

describe('lease facade', () => {
  it('serves the lease protocol only once started (after its votes are restored)', async () => {
    const { l, deliver, claim } = setup()
    await assert.rejects(deliver('A', claim), /does not serve/)
    await l.start()
    assert.ok('reply' in (await deliver('A', claim)))
    l.stop()
  })

  it('rejects a malformed message, counts it as rejected and warns', async () => {
    const { l, deliver, lease, rejected, sink } = setup()
    await l.start()
    assert.deepEqual(await deliver('A', '{not json'), { ended: 'reset' })
    assert.deepEqual(await deliver('A', { t: 'claim', ds: DS }), { ended: 'reset' })
    assert.deepEqual(lease.seen, [
      { type: 'invalid', result: 'rejected' },
      { type: 'invalid', result: 'rejected' },
    ])
    assert.deepEqual(rejected.seen[0], { map: 'lease', source: 'stream' })
    assert.ok(sink.msgs().includes('malformed lease message: dropped'))
    l.stop()
  })

  it('rejects an answer sent as a request: a voter is asked, never told', async () => {
    const { l, deliver, lease } = setup()
    await l.start()
    assert.deepEqual(await deliver('A', { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: V }), { ended: 'reset' })
    assert.deepEqual(lease.seen, [{ type: 'invalid', result: 'rejected' }])
    l.stop()
  })

  it('ignores messages from keys that are not members', async () => {
    const { l, deliver, claim, replies, lease } = setup()
    await l.start()
    assert.deepEqual(await deliver('Z', claim), { ended: 'closed' })
    await flush()
    assert.equal(replies.length, 0)
    assert.deepEqual(l.busySlots(), [])
    assert.deepEqual(lease.seen, [{ type: 'claim', result: 'ignored' }])
    l.stop()
  })

  it('answers a member’s claim on the same channel, and counts both', async () => {
    const { l, deliver, claim, lease } = setup()
    await l.start()
    assert.deepEqual(await deliver('A', claim), { reply: { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: A } })
    assert.deepEqual(lease.seen, [
      { type: 'claim', result: 'received' },
      { type: 'grant', result: 'sent' },
    ])
    assert.equal(l.busySlots()[0]?.holder, 'host-a')
    l.stop()
  })

  it('the sender is the member whose record names the channel’s peer, whatever the message says', async () => {
    const { l, deliver, claim } = setup()
    await l.start()
    await deliver('B', claim)
    assert.equal(l.busySlots()[0]?.holder, 'host-b')
    assert.deepEqual(await deliver('B', { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: 1 }), { reply: { t: 'ack', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: B } })
    assert.deepEqual(await deliver('A', { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: 1 }), { ended: 'closed' })
    assert.equal(l.busySlots()[0]?.holder, 'host-b', 'A cannot release B’s slot')
    l.stop()
  })

  it('notes the term of every message after judging it', async () => {
    const { l, deliver, claim, replies } = setup()
    await l.start()
    await deliver('A', claim)
    await deliver('A', { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: 1 })
    await deliver('B', claim)
    assert.match((replies.at(-1) as { reason: string }).reason, /stale term/)
  })

  it('ticks on the clock from start until stop', async () => {
    const { l, clock, fleet, deliver, claim } = setup()
    await l.start()
    await deliver('A', claim)
    assert.equal(l.busySlots().length, 1)
    fleet.daemonSets.delete(DS)
    clock.advance(defaultTimings().lease.tickMs)
    assert.equal(l.busySlots().length, 0, 'the tick forgot the deleted DaemonSet’s hold')
    l.stop()
    assert.equal(clock.pending(), 0)
  })

  it('restores its votes on start', async () => {
    const first = setup()
    await first.l.start()
    await first.deliver('A', first.claim)
    first.l.stop()
    const second = setup()
    const l2 = new Lease({ transport: new MemoryHub(second.clock).join(peerIdOf('host-v'), V), clock: second.clock, fleet: second.fleet, votes: first.votes, keyId: V, selfName: () => 'host-v', ttlMs: 10_000, timings: defaultTimings().lease, metrics: countingMetrics(), log: second.sink.log })
    await l2.start()
    assert.equal(l2.busySlots()[0]?.holder, 'host-a')
    l2.stop()
  })

  it('as a claimant, asks each other voter on a channel of its own and is granted on their answers', async () => {
    const { l, clock, fleet, peers } = setup()
    // A and B run real Leases too: V claims, A and B vote.
    const others = (['A', 'B'] as const).map((p) => new Lease({ transport: peers[p], clock, fleet, votes: new MemoryVoteStore(), keyId: p === 'A' ? A : B, selfName: () => (p === 'A' ? 'host-a' : 'host-b'), ttlMs: 10_000, timings: defaultTimings().lease, metrics: countingMetrics(), log: logSink().log }))
    for (const o of [l, ...others]) await o.start()
    const revision = revisionOf(fleet.daemonSet(DS)!)
    l.slots.claim(DS, revision, 'unavailable')
    clock.advance(defaultTimings().lease.jitterMinMs)
    l.slots.claim(DS, revision, 'unavailable')
    for (let i = 0; i < 20 && l.slots.status(DS).phase !== 'granted'; i++) await flush()
    assert.equal(l.slots.status(DS).phase, 'granted')
    assert.ok(l.slots.enter(DS))
    const term = (l.slots.status(DS) as { term: number }).term
    for (const o of others) assert.deepEqual(o.busySlots(), [{ ds: DS, kind: 'unavailable', slot: 0, holder: 'host-v', term, revision, acting: true }])
    l.slots.release(DS)
    for (let i = 0; i < 5; i++) await flush()
    for (const o of others) assert.deepEqual(o.busySlots(), [])
    for (const o of [l, ...others]) o.stop()
  })
})
