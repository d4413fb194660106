// A cluster peer that floods SUBSCRIBE entries and oversized gossipsub frames: the agent
// stays up, its heap stays bounded, and the others keep converging.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { RPC } from '@chainsafe/libp2p-gossipsub/message'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from 'it-length-prefixed-stream'
import type { Libp2p } from 'libp2p'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'
import { startRawPeer } from '../helpers/rogue.js'

describe('gossipsub flood from a peer holding the cluster key', () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  let raw: Libp2p | undefined

  before(async () => {
    cluster = await TestCluster.create('flood', 3000)
    agents = await cluster.startMany('f', 3)
    await waitFor('3 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 20_000)
  })

  after(async () => {
    await raw?.stop()
    await cluster.stopAll()
  })

  it('SUBSCRIBE floods and oversized frames leave the heap bounded and the cluster converging', async (t) => {
    const target = agents[0] as TestAgent
    const h0 = await target.health()
    raw = await startRawPeer(cluster.clusterKeyFile, cluster.root)
    const addr = multiaddr(`${await target.address()}/p2p/${h0.peerId}`)
    // 60k subscriptions per frame (about 600 KB, under the frame limit): without
    // decodeRpcLimits every one would be decoded and kept.
    // Topic names are unique across frames so that what is kept accumulates.
    const floodFrame = (n: number): Uint8Array => RPC.encode({ subscriptions: Array.from({ length: 60_000 }, (_, i) => ({ subscribe: true, topic: `t${n}-${i}` })), messages: [] })
    const oversized = new Uint8Array(4 * 1024 * 1024).fill(0x0a)
    let framesSent = 0
    for (let round = 0; round < 8; round++) {
      try {
        const stream = await raw.dialProtocol(addr, '/meshsub/1.1.0', { signal: AbortSignal.timeout(3000) })
        const lp = lpStream(stream, { maxDataLength: 16 * 1024 * 1024 })
        for (let i = 0; i < 5; i++) {
          await lp.write(round % 4 === 3 && i === 0 ? oversized : floodFrame(round * 10 + i), { signal: AbortSignal.timeout(3000) })
          framesSent++
        }
        await stream.close().catch(() => undefined)
      } catch {
        // The agent may reset the stream (oversized frame) or refuse us: both are fine.
      }
    }
    assert.ok(framesSent >= 8, `sent ${framesSent} frames`)
    await new Promise((r) => setTimeout(r, 1000))
    const h1 = await target.health()
    const growth = h1.heapUsedBytes - h0.heapUsedBytes
    t.diagnostic(`${framesSent} frames sent; heap ${(h0.heapUsedBytes / 1048576).toFixed(1)} -> ${(h1.heapUsedBytes / 1048576).toFixed(1)} MiB`)
    assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB after ${framesSent} frames`)

    const f = join(cluster.root, 'after.yaml')
    await writeFile(f, manifest('after-flood'))
    const r = await runCli('apply', '-f', f, '--agent', (agents[1] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await waitFor('all stores converge', async () => new Set(await Promise.all(agents.map(async (a) => (await a.health()).storeDigest))).size === 1 && (await target.daemonSets()).length === 1, 5000)
    assert.ok(target.proc?.exitCode === null, 'the target is still running')
  })
})
