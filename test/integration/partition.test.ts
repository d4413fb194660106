// A split into two groups (connections refused at the libp2p gater), writes on both
// sides, then healing: every agent ends with the same store.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'

describe('partition and heal', () => {
  let cluster: TestCluster
  let agents: TestAgent[]

  before(async () => {
    cluster = await TestCluster.create('part', 3000)
    agents = await cluster.startMany('p', 6, { control: true })
    await waitFor('all alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 6), 20_000)
  })

  after(async () => cluster.stopAll())

  it('writes on both sides of a split converge after healing', async () => {
    const left = agents.slice(0, 3)
    const right = agents.slice(3)
    const ids = async (g: TestAgent[]): Promise<string[]> => Promise.all(g.map(async (a) => (await a.health()).peerId))
    const leftIds = await ids(left)
    const rightIds = await ids(right)
    await Promise.all([...left.map((a) => a.deny(rightIds)), ...right.map((a) => a.deny(leftIds))])
    await waitFor('the other side Unreachable', async () => {
      const l = await Promise.all(left.map((a) => a.nodeState('p-6')))
      const r = await Promise.all(right.map((a) => a.nodeState('p-1')))
      return [...l, ...r].every((s) => s === 'Unreachable')
    }, 10_000)

    const apply = async (a: TestAgent, text: string): Promise<void> => {
      const f = join(cluster.root, `m-${Math.random()}.yaml`)
      await writeFile(f, text)
      const r = await runCli('apply', '-f', f, '--agent', a.target.address, '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
    }
    await apply(left[0] as TestAgent, manifest('left-only'))
    await apply(right[0] as TestAgent, manifest('right-only'))
    await apply(left[1] as TestAgent, manifest('both', 'busybox:1.35'))
    await new Promise((r) => setTimeout(r, 50))
    await apply(right[1] as TestAgent, manifest('both', 'busybox:1.36'))
    await new Promise((r) => setTimeout(r, 1500))
    const digests = async (): Promise<string[]> => Promise.all(agents.map(async (a) => (await a.health()).storeDigest))
    const split = await digests()
    assert.equal(new Set(split.slice(0, 3)).size, 1, 'left side agrees')
    assert.equal(new Set(split.slice(3)).size, 1, 'right side agrees')
    assert.notEqual(split[0], split[3], 'the sides differ while split')

    await Promise.all(agents.map((a) => a.deny([])))
    await waitFor('one digest everywhere', async () => new Set(await digests()).size === 1, 20_000)
    const names = (await (agents[4] as TestAgent).daemonSets()).map((d) => d.metadata.name).sort()
    assert.deepEqual(names, ['both', 'left-only', 'right-only'])
    const both = await runCli('get', 'ds', 'both', '-o', 'json', '--agent', (agents[0] as TestAgent).target.address)
    const image = (JSON.parse(both.stdout) as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]?.image
    assert.equal(image, 'busybox:1.36', 'the later write wins on both sides')
    await waitFor('all alive again', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 6), 20_000)
  })
})
