/**
 * What one rolled host costs the fleet: N real Leases on an in-memory hub, one host claims,
 * is granted, acts and releases, and every frame on every lease channel is counted. Point
 * to point, each other voter of the DaemonSet's committee (every voter, up to 9) gets a
 * claim, an act and a release and answers the first two: 5 (k - 1) messages (5 k for a host
 * off the committee), whatever N, where broadcasting every message and every answer to the
 * fleet cost about 2 (N - 1)^2 deliveries. They travel on one lease link per voter; to voters that
 * serve no links (older agents), on a stream per request.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { DEFAULT_COMMITTEE, committeeOf } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Lease } from '../../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import type { Metrics } from '../../../../agent/metrics.js'
import { LEASE_LINK_PROTOCOL } from '../../../../agent/network/constants.js'
import type { Transport } from '../../../../agent/transport.js'
import { MemoryHub, type Sent } from '../../../helpers/memory-transport.js'
import { DS, FakeClock, FakeFleet, flush, key, peerIdOf } from './fakes.js'

const silent = pino({ level: 'silent' })
const noMetrics = { lease: { inc: () => {} }, rejected: { inc: () => {} }, leaseChannels: { inc: () => {} } } as unknown as Pick<Metrics, 'lease' | 'rejected' | 'leaseChannels'>

/** olderVoter is a voter's transport that serves the one-request lease streams only, as an older agent's. */
const olderVoter = (t: Transport): Pick<Transport, 'serve' | 'open'> => ({
  serve: async (protocol, handler, limits) => (protocol === LEASE_LINK_PROTOCOL ? undefined : t.serve(protocol, handler, limits)),
  open: (peer, protocol, limits, addresses) => t.open(peer, protocol, limits, addresses),
})

/** rollOne runs one host's whole update in a fleet of n (its other voters older agents, when `older`) and returns what it cost. */
async function rollOne(n: number, older = false, who = 0): Promise<Sent> {
  const clock = new FakeClock()
  const fleet = new FakeFleet(Array.from({ length: n }, (_, i) => ({ keyId: key(`h${i}`), name: `host-${i}` })))
  const hub = new MemoryHub(clock)
  const transports = fleet.members.map((m) => hub.join(peerIdOf(m.name), m.keyId))
  const leases = fleet.members.map(
    (m, i) =>
      new Lease({
        transport: older && i > 0 ? olderVoter(transports[i]!) : transports[i]!,
        clock,
        fleet,
        votes: new MemoryVoteStore(),
        keyId: m.keyId,
        selfName: () => m.name,
        ttlMs: 10_000,
        timings: defaultTimings().lease,
        metrics: noMetrics,
        log: silent,
        random: () => 0,
      }),
  )
  for (const l of leases) await l.start()
  const holder = leases[who]!
  const revision = revisionOf(fleet.daemonSet(DS)!)
  holder.slots.claim(DS, revision, 'unavailable')
  clock.advance(defaultTimings().lease.jitterMinMs)
  holder.slots.claim(DS, revision, 'unavailable')
  for (let i = 0; i < 100 && holder.slots.status(DS).phase !== 'granted'; i++) await flush()
  assert.equal(holder.slots.status(DS).phase, 'granted')
  assert.ok(holder.slots.enter(DS))
  holder.slots.release(DS)
  for (let i = 0; i < 100 && leases.some((l) => l.busySlots().length > 0); i++) await flush()
  for (const l of leases) assert.deepEqual(l.busySlots(), [], 'every voter freed the slot')
  // Late answers (grants and acks past the majority) are in by now too.
  for (let i = 0; i < 10; i++) await flush()
  for (const l of leases) l.stop()
  // What every transport sent, either way: requests on the channels it opened, answers on those it served.
  return transports.reduce((sum, t) => ({ published: sum.published + t.sent.published, opened: sum.opened + t.sent.opened, frames: sum.frames + t.sent.frames }), { published: 0, opened: 0, frames: 0 })
}

describe('lease messages per rolled host', () => {
  for (const n of [5, 9]) {
    it(`within the committee's size, every voter: N=${n}`, async (t) => {
      const c = await rollOne(n)
      t.diagnostic(`N=${n}: ${c.frames} messages on ${c.opened} channels, ${c.published} gossip publishes for one rolled host`)
      assert.equal(c.published, 0, 'no lease message is broadcast')
      assert.equal(c.opened, n - 1, 'one link per other voter, carrying the claim, the act and the release')
      assert.equal(c.frames, 5 * (n - 1), 'claim, grant, act, ack and release per other voter')
    })
  }
  for (const n of [50, 200]) {
    for (const on of [true, false]) {
      it(`past the committee's size, the same whatever the fleet: N=${n}, the holder ${on ? 'on' : 'off'} the committee`, async (t) => {
        const keys = Array.from({ length: n }, (_, i) => key(`h${i}`))
        const committee = committeeOf(keys, DS, DEFAULT_COMMITTEE)
        const who = keys.findIndex((k) => committee.includes(k) === on)
        const c = await rollOne(n, false, who)
        const others = on ? DEFAULT_COMMITTEE - 1 : DEFAULT_COMMITTEE
        t.diagnostic(`N=${n}: ${c.frames} messages on ${c.opened} channels`)
        assert.equal(c.published, 0, 'no lease message is broadcast')
        assert.equal(c.opened, others, 'one link per other committee voter')
        assert.equal(c.frames, 5 * others, 'claim, grant, act, ack and release per other committee voter')
      })
    }
  }
  it('to voters that serve no links, a stream per request: N=5', async (t) => {
    const c = await rollOne(5, true)
    t.diagnostic(`N=5, older voters: ${c.frames} messages on ${c.opened} channels`)
    assert.equal(c.published, 0, 'no lease message is broadcast')
    assert.equal(c.opened, 3 * 4, 'a channel per other voter for the claim, the act and the release')
    assert.equal(c.frames, 5 * 4, 'claim, grant, act, ack and release per other voter')
  })
})
