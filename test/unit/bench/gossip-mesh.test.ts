import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { GossipMessage, Verdict } from '../../../agent/transport.js'
import { seeded } from '../../helpers/seeded.js'
import { GossipMesh, OUR_GOSSIPSUB, type GossipKind } from '../../bench/scale/gossip-mesh.js'
import { SimClock } from '../../bench/scale/sim-clock.js'

const TOPIC = '/t'

/** net builds n peers on a ring with `chords` random extra links each, and runs their heartbeats. */
function net(n: number, opts: { chords?: number; verdict?: (to: number) => Verdict } = {}) {
  const clock = new SimClock()
  const random = seeded(7)
  const got: number[][] = Array.from({ length: n }, () => [])
  const sent: Record<GossipKind, number> = { message: 0, ihave: 0, iwant: 0, idontwant: 0, graft: 0, prune: 0 }
  const mesh = new GossipMesh(
    OUR_GOSSIPSUB,
    {
      after: (ms, fn) => void clock.after(ms, fn),
      random,
      delay: () => 1,
      sent: (_from, kind) => void sent[kind]++,
      handle: (to, msg) => {
        got[to]?.push(clock.mono())
        return opts.verdict?.(to) ?? (msg.data.length > 0 ? 'accept' : 'reject')
      },
    },
    [TOPIC],
    n,
  )
  for (let i = 0; i < n; i++) mesh.add(i)
  for (let i = 0; i < n; i++) {
    mesh.connect(i, (i + 1) % n)
    for (let c = 0; c < (opts.chords ?? 3); c++) {
      const j = Math.floor(random() * n)
      if (j !== i) mesh.connect(i, j)
    }
  }
  for (let i = 0; i < n; i++) clock.every(OUR_GOSSIPSUB.heartbeatMs, () => mesh.heartbeat(i))
  const msg = (bytes: number): GossipMessage => ({ topic: TOPIC, data: new Uint8Array(bytes), from: 'p', fromKeyId: 'k' })
  return { clock, mesh, got, sent, msg }
}

describe('gossipsub mesh model', () => {
  it('heartbeats graft every peer a mesh of at least Dlo peers and prune it to at most Dhi', async () => {
    const { clock, mesh } = net(200)
    await clock.advance(3000)
    for (let i = 0; i < 200; i++) {
      const size = mesh.meshOf(i, TOPIC).length
      assert.ok(size >= OUR_GOSSIPSUB.Dlo && size <= OUR_GOSSIPSUB.Dhi, `peer ${i} has a mesh of ${size}`)
    }
  })

  it('a message is relayed hop by hop to every peer, each handling it once', async () => {
    const { clock, mesh, got, sent, msg } = net(200)
    await clock.advance(3000)
    const start = clock.mono()
    mesh.publish(0, msg(100))
    await clock.advance(1000)
    assert.deepEqual(got[0], [], 'the publisher does not hear its own message')
    for (let i = 1; i < 200; i++) assert.equal(got[i]?.length, 1, `peer ${i} handled it ${got[i]?.length} times`)
    const hops = Math.max(...got.slice(1).map((g) => (g[0] as number) - start))
    assert.ok(hops >= 3, `a 200-peer mesh of degree ~4 needs several hops, took ${hops} ms at 1 ms a hop`)
    assert.ok(sent.message < 200 * OUR_GOSSIPSUB.Dhi, `copies sent ${sent.message}`)
  })

  it('large messages make receivers send IDONTWANT, and fewer copies travel', async () => {
    const small = net(200)
    const large = net(200)
    for (const n of [small, large]) await n.clock.advance(3000)
    small.mesh.publish(0, small.msg(100))
    large.mesh.publish(0, large.msg(OUR_GOSSIPSUB.idontwantMinBytes))
    for (const n of [small, large]) await n.clock.advance(1000)
    assert.equal(small.sent.idontwant, 0)
    assert.ok(large.sent.idontwant > 0)
    assert.ok(large.sent.message <= small.sent.message, `${large.sent.message} copies of the large message, ${small.sent.message} of the small`)
  })

  it('a peer that rejects a message does not relay it; every other peer still gets it (other mesh paths, IHAVE/IWANT)', async () => {
    // Peer 1 rejects everything: its mesh peers hear nothing from it.
    const { clock, mesh, got, sent, msg } = net(50, { verdict: (to) => (to === 1 ? 'reject' : 'accept') })
    await clock.advance(3000)
    mesh.publish(0, msg(100))
    await clock.advance(5000)
    for (let i = 2; i < 50; i++) assert.equal(got[i]?.length, 1, `peer ${i}`)
    assert.ok(sent.ihave > 0, 'IHAVE went out at heartbeats')
  })
})
