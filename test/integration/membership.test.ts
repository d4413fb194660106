// Failure detection and clean leave, late joiners and restarts from the data dir.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'

describe('membership', () => {
  let cluster: TestCluster
  let agents: TestAgent[]

  before(async () => {
    cluster = await TestCluster.create('members', 3000)
    agents = await cluster.startMany('m', 5, { extra: ['--forget', '10s'] })
    await waitFor('all 5 alive everywhere', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 5), 20_000)
  })

  after(async () => cluster.stopAll())

  it('a node killed with SIGKILL is Unreachable on every other agent within the suspicion window', async () => {
    const victim = agents[4] as TestAgent
    const others = agents.slice(0, 4)
    await victim.stop('SIGKILL')
    const t0 = Date.now()
    await waitFor('m-5 Unreachable everywhere', async () => (await Promise.all(others.map((a) => a.nodeState('m-5')))).every((s) => s === 'Unreachable'), cluster.suspicionMs + 3000, 50)
    const elapsed = Date.now() - t0
    // The window counts from the last heartbeat received (500 ms period) plus one failure-detector tick.
    assert.ok(elapsed <= cluster.suspicionMs + 1000, `detected after ${elapsed} ms`)
    assert.ok(elapsed >= cluster.suspicionMs - 600, `detected too early: ${elapsed} ms`)
  })

  it('an unreachable node is forgotten after the horizon, and anti-entropy does not bring it back', async () => {
    const others = agents.slice(0, 4)
    await waitFor('m-5 forgotten everywhere', async () => (await Promise.all(others.map((a) => a.nodeState('m-5')))).every((s) => s === undefined), 15_000, 200)
    // Several anti-entropy rounds later it is still gone.
    await new Promise((r) => setTimeout(r, 2500))
    for (const a of others) assert.equal(await a.nodeState('m-5'), undefined)
  })

  it('a node stopped with SIGTERM is Left at once', async () => {
    const leaving = agents[3] as TestAgent
    const others = agents.slice(0, 3)
    const t0 = Date.now()
    const code = await leaving.stop('SIGTERM')
    assert.equal(code, 0)
    await waitFor('m-4 Left everywhere', async () => (await Promise.all(others.map((a) => a.nodeState('m-4')))).every((s) => s === 'Left'), 2000, 20)
    assert.ok(Date.now() - t0 < 2000)
    assert.match(await leaving.logTail(5), /agent stopped/)
  })

  it('a late joiner receives the full store', async () => {
    const file = join(cluster.root, 'two.yaml')
    await writeFile(file, `${manifest('alpha')}---\n${manifest('beta', 'busybox:1.36', 'kube-system')}`)
    const r = await runCli('apply', '-f', file, '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    const want = (await (agents[0] as TestAgent).health()).storeDigest
    const late = await cluster.agent({ name: 'm-late', bootstrap: [await (agents[1] as TestAgent).address()] }).start()
    await waitFor('late joiner store', async () => (await late.health()).storeDigest === want, 10_000)
    assert.deepEqual((await late.daemonSets()).map((d) => `${d.metadata.namespace}/${d.metadata.name}`).sort(), ['default/alpha', 'kube-system/beta'])
    await waitFor('late joiner knows the live nodes', async () => (await late.nodes()).filter((n) => n.status.state === 'Alive').length === 4, 10_000)
  })

  it('an agent restarted from its data dir has its DaemonSets before it talks to anyone', async () => {
    const a = agents[2] as TestAgent
    const want = (await a.health()).storeDigest
    await a.stop('SIGTERM')
    // Restart with no bootstrap peer: the store is read from disk before the network starts.
    await a.start({ bootstrap: [] })
    const h = await a.health()
    assert.equal(h.storeDigest, want)
    // Two DaemonSets and their two revision histories.
    assert.equal(h.storeEntries, 4)
    assert.deepEqual((await a.daemonSets()).map((d) => d.metadata.name).sort(), ['alpha', 'beta'])
  })
})

describe('a restart beside a host whose clock is ahead', () => {
  let cluster: TestCluster

  after(async () => cluster.stopAll())

  it('the restarted agent is Alive again everywhere, though its previous life signed its leave later than its new records', async () => {
    cluster = await TestCluster.create('restart', 3000)
    const port = await freePort()
    const first = await cluster.agent({ name: 'r-1', listen: `/ip4/127.0.0.1/tcp/${port}` }).start()
    const boot = [await first.address()]
    const second = await cluster.agent({ name: 'r-2', bootstrap: boot }).start()
    // r-3's clock runs 45 s ahead, and with it every agent's hybrid clock once they hear from it.
    const ahead = await cluster.agent({ name: 'r-3', bootstrap: boot, env: { DAEMONMESH_TEST_CLOCK_OFFSET_MS: '45000' } }).start()
    const all = [first, second, ahead]
    const alive = async (a: TestAgent): Promise<string[]> => (await a.nodes()).filter((n) => n.status.state === 'Alive').map((n) => n.metadata.name).sort()
    await waitFor('all 3 alive everywhere', async () => (await Promise.all(all.map(alive))).every((l) => l.length === 3), 20_000)

    // r-1 leaves (its leave signed 45 s ahead) and comes back at once, alone: its first
    // records are signed by its own clock, below that leave.
    await first.stop('SIGTERM')
    await first.start({ bootstrap: [] })
    await new Promise((r) => setTimeout(r, 2000))
    // r-2 leaves too: r-3, alone, dials its bootstrap address and finds r-1's new life, to
    // which it hands r-1's own leave.
    await second.stop('SIGTERM')
    await waitFor('r-1 and r-3 Alive at both', async () => (await alive(first)).join() === 'r-1,r-3' && (await alive(ahead)).join() === 'r-1,r-3', 15_000, 200)
    assert.match(await first.logTail(200), /a peer holds a newer record of this node/)
  })
})

/** freePort returns a TCP port that was free on loopback a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  await new Promise((r) => server.close(r))
  return port
}
