// 30 agents started against one bootstrap address: every agent ends up with several
// connections (peers learned from node records) and receives every message.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'

const N = 30

describe(`a mesh of ${N} agents from one bootstrap address`, () => {
  let cluster: TestCluster
  let agents: TestAgent[]

  before(async () => {
    // 30 agents share this machine's 2 cores: a 2 s heartbeat keeps them from starving.
    cluster = await TestCluster.create('mesh', 10_000)
    cluster.logLevel = 'info'
    cluster.heartbeat = '2s'
    agents = await cluster.startMany('mesh', N)
  })

  after(async () => cluster.stopAll())

  it('every agent keeps several connections and knows every node', async (t) => {
    const peers = await waitFor('3+ connections everywhere and all nodes known', async () => {
      const hs = await Promise.all(agents.map((a) => a.health()))
      const known = await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))
      return hs.every((h) => h.peers >= 3) && known.every((k) => k === N) ? hs.map((h) => h.peers) : undefined
    }, 120_000, 1000)
    t.diagnostic(`connections per agent: min ${Math.min(...peers)}, max ${Math.max(...peers)}`)
    // Bootstrap-only would leave everyone with one connection to mesh-1.
    assert.ok(Math.min(...peers) >= 3)
  })

  it('every agent receives every message', async (t) => {
    for (let i = 0; i < 3; i++) {
      const f = join(cluster.root, `m${i}.yaml`)
      await writeFile(f, manifest(`mesh-ds-${i}`))
      const origin = agents[(i * 11) % N] as TestAgent
      const r = await runCli('apply', '-f', f, '--agent', origin.target.address, '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
      const t0 = Date.now()
      // Each apply writes two entries: the DaemonSet and its revision history.
      await waitFor(`mesh-ds-${i} everywhere`, async () => (await Promise.all(agents.map(async (a) => (await a.health()).storeEntries))).every((n) => n === 2 * (i + 1)), 10_000, 50)
      t.diagnostic(`mesh-ds-${i}: in all ${N} stores after ${Date.now() - t0} ms`)
    }
  })
})
