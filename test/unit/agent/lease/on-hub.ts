// A voter under test on an in-memory hub: host V runs a real Lease; A and B are members,
// Z holds the cluster key but has no record. Shared by the lease tests that speak to V as
// peers (on streams or on links). Tests only.

import { viewOf } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Lease } from '../../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import type { Metrics } from '../../../../agent/metrics.js'
import { MemoryHub } from '../../../helpers/memory-transport.js'
import { DS, FakeClock, FakeFleet, key, logSink, peerIdOf } from './fakes.js'

export const A = key('a')
export const B = key('b')
export const V = key('v')

/** LeaseMetrics is what a Lease counts. */
export type LeaseMetrics = Pick<Metrics, 'lease' | 'rejected' | 'leaseChannels'>

/** counter records the labels of every increment. */
export function counter() {
  const seen: Record<string, string>[] = []
  return { seen, inc: (labels: Record<string, string>) => void seen.push(labels) }
}

/** countingMetrics returns metrics that only record (none read back but by the test). */
export const countingMetrics = (): LeaseMetrics => ({ lease: counter(), rejected: counter(), leaseChannels: counter() }) as unknown as LeaseMetrics

/** voterOnHub builds V's Lease (not started) and its peers, with a claim of A's to send. */
export function voterOnHub() {
  const clock = new FakeClock()
  const fleet = new FakeFleet([
    { keyId: A, name: 'host-a' },
    { keyId: B, name: 'host-b' },
    { keyId: V, name: 'host-v' },
  ])
  const hub = new MemoryHub(clock)
  const peers = { A: hub.join(peerIdOf('host-a'), A), B: hub.join(peerIdOf('host-b'), B), Z: hub.join(peerIdOf('host-z'), key('z')) }
  const transport = hub.join(peerIdOf('host-v'), V)
  const lease = counter()
  const rejected = counter()
  const metrics = { lease, rejected, leaseChannels: counter() } as unknown as LeaseMetrics
  const sink = logSink()
  const votes = new MemoryVoteStore()
  const l = new Lease({ transport, clock, fleet, votes, keyId: V, selfName: () => 'host-v', ttlMs: 10_000, timings: defaultTimings().lease, metrics, log: sink.log, random: () => 0 })
  const revision = revisionOf(fleet.daemonSet(DS)!)
  const claim = { t: 'claim', ds: DS, kind: 'unavailable', slot: 0, term: 1, revision, view: viewOf(fleet.voters()).view }
  return { clock, fleet, hub, l, peers, transport, lease, rejected, sink, votes, claim, revision }
}
