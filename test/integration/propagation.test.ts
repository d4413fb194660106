// 10 agents on loopback: a DaemonSet applied on one is in every store within 2 s; a label
// change on one node is seen by all.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'

describe('propagation across 10 agents', () => {
  let cluster: TestCluster
  let agents: TestAgent[]

  before(async () => {
    cluster = await TestCluster.create('prop')
    const cfg = join(cluster.root, 'prop-10.yaml')
    await writeFile(cfg, 'labels:\n  zone: a\n')
    const first = await cluster.agent({ name: 'prop-1' }).start()
    const boot = await first.address()
    const rest = await Promise.all(Array.from({ length: 9 }, (_, i) => cluster.agent({ name: `prop-${i + 2}`, bootstrap: [boot], ...(i === 8 ? { config: cfg } : {}) }).start()))
    agents = [first, ...rest]
    await waitFor('every agent to know all 10 nodes', async () => {
      const counts = await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))
      return counts.every((c) => c === 10)
    }, 30_000)
  })

  after(async () => cluster.stopAll())

  it('a DaemonSet applied on one agent is in every store within 2 s', async () => {
    const file = join(cluster.root, 'ds.yaml')
    await writeFile(file, manifest('node-agent'))
    const origin = agents[3] as TestAgent
    const r = await runCli('apply', '-f', file, '--agent', origin.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'daemonset.apps/node-agent created\n')
    const t0 = Date.now()
    const digest = (await origin.health()).storeDigest
    await waitFor('every store to hold the DaemonSet', async () => {
      const ds = await Promise.all(agents.map((a) => a.health()))
      return ds.every((h) => h.storeDigest === digest)
    }, 2000, 20)
    const elapsed = Date.now() - t0
    assert.ok(elapsed <= 2000, `took ${elapsed} ms`)
    for (const a of agents) assert.deepEqual((await a.daemonSets()).map((d) => d.metadata.name), ['node-agent'])
  })

  it('a label change on one node is seen by all', async () => {
    const changed = agents[9] as TestAgent
    await writeFile(join(cluster.root, 'prop-10.yaml'), 'labels:\n  zone: b\n  disktype: ssd\n')
    changed.proc?.kill('SIGHUP')
    await waitFor('every agent to see zone=b on prop-10', async () => {
      const views = await Promise.all(agents.map(async (a) => (await a.nodes()).find((n) => n.metadata.name === 'prop-10')?.metadata.labels))
      return views.every((l) => l?.zone === 'b' && l.disktype === 'ssd')
    }, 5000)
  })

  it('get ds and get nodes print kubectl-style lists', async () => {
    const a = agents[0] as TestAgent
    const ds = await runCli('get', 'ds', '-o', 'json', '--agent', a.target.address)
    assert.equal(ds.code, 0, ds.stderr)
    const list = JSON.parse(ds.stdout) as { kind: string; items: { metadata: { name: string; namespace: string }; spec: unknown; status: { desiredNumberScheduled: number } }[] }
    assert.equal(list.kind, 'List')
    assert.equal(list.items[0]?.metadata.name, 'node-agent')
    assert.equal(list.items[0]?.metadata.namespace, 'default')
    assert.ok(list.items[0]?.spec)
    assert.equal(list.items[0]?.status.desiredNumberScheduled, 10)
    const nodes = await runCli('get', 'nodes', '-o', 'json', '--agent', a.target.address)
    const nl = JSON.parse(nodes.stdout) as { kind: string; items: { metadata: { name: string; labels: Record<string, string> }; spec: { taints: unknown[] }; status: { state: string } }[] }
    assert.equal(nl.kind, 'List')
    assert.equal(nl.items.length, 10)
    assert.ok(nl.items.every((n) => Array.isArray(n.spec.taints) && n.metadata.labels['kubernetes.io/hostname'] === n.metadata.name && n.status.state === 'Alive'))
    const table = await runCli('get', 'ds', '--agent', a.target.address)
    assert.match(table.stdout, /^NAME +DESIRED +CURRENT +READY +UP-TO-DATE +AVAILABLE +NODE SELECTOR +AGE\nnode-agent +10 +0 +0 +0 +0 +<none> +\d+s\n$/)
  })

  it('delete ds removes it from every store', async () => {
    const r = await runCli('delete', 'ds', 'node-agent', '--agent', (agents[5] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'daemonset.apps "node-agent" deleted\n')
    await waitFor('every agent to drop it', async () => (await Promise.all(agents.map((a) => a.daemonSets()))).every((l) => l.length === 0), 3000)
    const again = await runCli('delete', 'ds', 'node-agent', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(again.code, 1)
    assert.match(again.stdout, /not found/)
  })
})
