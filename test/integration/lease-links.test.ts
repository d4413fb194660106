// Lease carriage over real libp2p: three Leases (the production code) on three real
// Networks (tcp, pnet, noise, yamux) with the real clock. Host A and host B serve lease
// links; host C is an older agent: it serves the one-request lease streams only and opens
// nothing else (its transport refuses to open a link, as an agent that knows no links). A
// claims, acts and releases: its requests reach B on one link, and C on a stream each
// (A's link to C fails with protocol selection, which A takes as an older voter). Then C
// claims, acts and releases on streams, and A and B serve them. The votes and the freed
// slots are the same either way.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { revisionOf } from '../../core/revision.js'
import { systemClock } from '../../agent/clock.js'
import { defaultTimings } from '../../agent/defaults.js'
import { Lease } from '../../agent/lease/lease.js'
import type { PeerAddress } from '../../agent/lease/fleet-view.js'
import { MemoryVoteStore } from '../../agent/lease/votes.js'
import { Metrics } from '../../agent/metrics.js'
import { LEASE_LINK_PROTOCOL } from '../../agent/network/constants.js'
import { keyIdOfPeerPublicKey, loadClusterKey, loadOrCreatePeerKey } from '../../agent/network/keys.js'
import { Network } from '../../agent/network/network.js'
import { ProtocolNotSupportedError, type Transport } from '../../agent/transport.js'
import { waitFor } from '../helpers/cluster.js'
import { DS, FakeFleet } from '../unit/agent/lease/fakes.js'

const silent = pino({ level: 'silent' })

/** NetFleet is a plain-data fleet whose members are reached at their real Networks. */
class NetFleet extends FakeFleet {
  readonly nets = new Map<string, Network>()
  override peerOf(keyId: string): PeerAddress | undefined {
    const net = this.nets.get(keyId)
    return net === undefined ? undefined : { peerId: net.peerId, addresses: net.addresses() }
  }
}

/** older is the lease's view of an older agent's transport: it serves and opens one-request lease streams only. */
const older = (t: Transport): Pick<Transport, 'serve' | 'open'> => ({
  serve: async (protocol, handler, limits) => (protocol === LEASE_LINK_PROTOCOL ? undefined : t.serve(protocol, handler, limits)),
  open: async (peer, protocol, limits, addresses) => {
    if (protocol === LEASE_LINK_PROTOCOL) throw new ProtocolNotSupportedError(peer, protocol)
    return t.open(peer, protocol, limits, addresses)
  },
})

/** channels reads how many channels a host opened to voters, by carriage. */
async function channels(m: Metrics): Promise<{ link: number; stream: number }> {
  const values = (await m.leaseChannels.get()).values
  const of = (c: string): number => values.find((v) => v.labels.carriage === c)?.value ?? 0
  return { link: of('link'), stream: of('stream') }
}

describe('lease carriage over libp2p (links, and streams to an older agent)', () => {
  let dir = ''
  const nets: Network[] = []
  const leases: Lease[] = []
  const metrics = [new Metrics(), new Metrics(), new Metrics()]
  let fleet: NetFleet
  const names = ['ll-a', 'll-b', 'll-c']

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dm-lease-links-'))
    const { psk } = await loadClusterKey(join(dir, 'cluster.key'), true)
    const keys = await Promise.all(names.map(async (n) => (await loadOrCreatePeerKey(join(dir, `${n}.key`))).key))
    for (const key of keys) nets.push(await Network.create({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 16, timings: defaultTimings(), logger: silent }))
    fleet = new NetFleet(keys.map((k, i) => ({ keyId: keyIdOfPeerPublicKey(k.publicKey.raw), name: names[i] as string })))
    fleet.members.forEach((m, i) => fleet.nets.set(m.keyId, nets[i] as Network))
    for (const [i, m] of fleet.members.entries()) {
      const net = nets[i] as Network
      const l = new Lease({ transport: i === 2 ? older(net) : net, clock: systemClock, fleet, votes: new MemoryVoteStore(), keyId: m.keyId, selfName: () => m.name, ttlMs: 10_000, timings: defaultTimings().lease, metrics: metrics[i] as Metrics, log: silent, random: () => 0 })
      await l.start()
      leases.push(l)
    }
  })

  after(async () => {
    for (const l of leases) l.stop()
    await Promise.all(nets.map((n) => n.stop().catch(() => undefined)))
    await rm(dir, { recursive: true, force: true })
  })

  /** roll has host i claim, act and release slot 0, and checks every voter saw it acting, then free. */
  const roll = async (i: number): Promise<void> => {
    const holder = leases[i] as Lease
    const revision = revisionOf(fleet.daemonSet(DS)!)
    await waitFor(`${names[i]} granted`, () => {
      holder.slots.claim(DS, revision, 'unavailable')
      return holder.slots.status(DS).phase === 'granted'
    }, 15_000, 50)
    assert.ok(holder.slots.enter(DS), `${names[i]} acts under its slot`)
    for (const [j, l] of leases.entries()) assert.deepEqual(l.busySlots().map((s) => [s.holder, s.acting]), [[names[i], true]], `${names[j]} shows ${names[i]} acting`)
    holder.slots.release(DS)
    await waitFor(`${names[i]}'s slot freed everywhere`, () => leases.every((l) => l.busySlots().length === 0), 10_000, 50)
  }

  it('a host claims on one link to a voter that serves links, and on a stream per request to one that does not', async () => {
    await roll(0)
    assert.deepEqual(await channels(metrics[0] as Metrics), { link: 1, stream: 3 }, 'A: one link to B; the claim, the act and the release to C on streams of their own')
  })

  it('an older host claims on streams, and is served', async () => {
    await roll(2)
    assert.deepEqual(await channels(metrics[2] as Metrics), { link: 0, stream: 6 }, 'C: a stream for each request to A and to B')
  })

  it('a second claim goes on the link already open', async () => {
    await roll(1)
    await roll(0)
    assert.deepEqual(await channels(metrics[0] as Metrics), { link: 1, stream: 6 }, 'A: still one link to B')
    assert.equal((await channels(metrics[1] as Metrics)).link, 1, 'B: one link to A')
  })
})
