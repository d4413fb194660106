import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { viewOf, type LeaseMessage } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Lease } from '../../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import type { Metrics } from '../../../../agent/metrics.js'
import { Topics } from '../../../../agent/network/constants.js'
import type { GossipHandler, GossipMessage } from '../../../../agent/transport.js'
import { DS, FakeClock, FakeFleet, flush, key, logSink } from './fakes.js'

const A = key('a')
const B = key('b')
const V = key('v')

function counter() {
  const seen: Record<string, string>[] = []
  return { seen, inc: (labels: Record<string, string>) => void seen.push(labels) }
}

function setup() {
  const clock = new FakeClock()
  const fleet = new FakeFleet([
    { keyId: A, name: 'host-a' },
    { keyId: B, name: 'host-b' },
    { keyId: V, name: 'host-v' },
  ])
  const handlers = new Map<string, GossipHandler>()
  const published: { topic: string; msg: LeaseMessage }[] = []
  const transport = {
    publish: async (topic: string, data: Uint8Array) => void published.push({ topic, msg: JSON.parse(new TextDecoder().decode(data)) as LeaseMessage }),
    subscribe: (topic: string, h: GossipHandler) => void handlers.set(topic, h),
  }
  const lease = counter()
  const rejected = counter()
  const metrics = { lease, rejected } as unknown as Pick<Metrics, 'lease' | 'rejected'>
  const sink = logSink()
  const votes = new MemoryVoteStore()
  const l = new Lease({ transport, clock, fleet, votes, keyId: V, selfName: () => 'host-v', ttlMs: 10_000, timings: defaultTimings().lease, metrics, log: sink.log, random: () => 0 })
  const deliver = (fromKeyId: string, body: unknown) => {
    const h = handlers.get(Topics.lease)
    assert.ok(h !== undefined, 'subscribed to the lease topic')
    const msg: GossipMessage = { topic: Topics.lease, data: new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body)), from: 'peer', fromKeyId }
    return h(msg)
  }
  const revision = revisionOf(fleet.daemonSet(DS)!)
  const claim = { t: 'claim', ds: DS, kind: 'unavailable', slot: 0, term: 1, revision, view: viewOf(fleet.voters()).view }
  return { clock, fleet, l, handlers, published, lease, rejected, sink, votes, deliver, claim }
}

describe('lease facade', () => {
  it('hears the lease topic only once started (after its votes are restored)', async () => {
    const { l, handlers } = setup()
    assert.equal(handlers.size, 0)
    await l.start()
    assert.ok(handlers.has(Topics.lease))
    l.stop()
  })

  it('rejects a malformed message, counts it as rejected and warns', async () => {
    const { l, deliver, lease, rejected, sink } = setup()
    await l.start()
    assert.equal(deliver(A, '{not json'), 'reject')
    assert.equal(deliver(A, { t: 'claim', ds: DS }), 'reject')
    assert.deepEqual(lease.seen, [
      { type: 'invalid', result: 'rejected' },
      { type: 'invalid', result: 'rejected' },
    ])
    assert.deepEqual(rejected.seen[0], { map: 'lease', source: 'gossip' })
    assert.ok(sink.msgs().includes('malformed lease message: dropped'))
    l.stop()
  })

  it('ignores messages from keys that are not members', async () => {
    const { l, deliver, claim, published } = setup()
    await l.start()
    assert.equal(deliver(key('z'), claim), 'ignore')
    await flush()
    assert.equal(published.length, 0)
    l.stop()
  })

  it('answers a member’s claim on the lease topic, off the validator, and counts both', async () => {
    const { l, deliver, claim, published, lease } = setup()
    await l.start()
    assert.equal(deliver(A, claim), 'accept')
    assert.equal(published.length, 0, 'handling is queued, not done in the validator')
    await flush()
    assert.deepEqual(published, [{ topic: Topics.lease, msg: { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: A } }])
    assert.deepEqual(lease.seen, [
      { type: 'claim', result: 'received' },
      { type: 'grant', result: 'sent' },
    ])
    assert.equal(l.busySlots()[0]?.holder, 'host-a')
    l.stop()
  })

  it('notes the term of every message after judging it', async () => {
    const { l, deliver, claim, published } = setup()
    await l.start()
    deliver(A, claim)
    await flush()
    deliver(A, { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: 1 })
    await flush()
    deliver(B, claim)
    await flush()
    assert.match((published.at(-1)?.msg as { reason: string }).reason, /stale term/)
  })

  it('ticks on the clock from start until stop', async () => {
    const { l, clock, fleet, deliver, claim } = setup()
    await l.start()
    deliver(A, claim)
    await flush()
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
    first.deliver(A, first.claim)
    await flush()
    first.l.stop()
    const second = setup()
    const l2 = new Lease({ transport: { publish: async () => {}, subscribe: () => {} }, clock: second.clock, fleet: second.fleet, votes: first.votes, keyId: V, selfName: () => 'host-v', ttlMs: 10_000, timings: defaultTimings().lease, metrics: { lease: counter(), rejected: counter() } as unknown as Pick<Metrics, 'lease' | 'rejected'>, log: second.sink.log })
    await l2.start()
    assert.equal(l2.busySlots()[0]?.holder, 'host-a')
    l2.stop()
  })
})
