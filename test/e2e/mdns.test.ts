// LAN discovery: agents on hosts of one network segment (namespaces on a bridge) find
// each other with mDNS, with no bootstrap address given.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { Fabric, requireHostTools } from '../helpers/netns.js'
import { surfaceFailures } from '../helpers/failures.js'

const skip = await requireHostTools()

describe('mDNS discovery on one segment', { skip }, () => {
  let cluster: TestCluster
  let fabric: Fabric
  const agents: TestAgent[] = []

  before(async () => {
    cluster = await TestCluster.create('mdns')
    fabric = new Fabric(78)
    await fabric.up()
    for (const name of ['lan-1', 'lan-2', 'lan-3']) {
      const host = await fabric.addHost(name)
      agents.push(await cluster.agent({ name, netns: host.ns, listen: '/ip4/0.0.0.0/tcp/7946', extra: ['--mdns'] }).start())
    }
  })

  after(async () => {
    await cluster.stopAll()
    await fabric.destroy()
  })

  it('every agent finds the others with no address given', async () => {
    await waitFor('all three alive everywhere', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 30_000, 250)
    for (const a of agents) assert.ok((await a.health()).peers >= 2)
  })

  surfaceFailures()
})
