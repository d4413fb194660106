// Node admission on real agents (enforced): hosts join with a join token made offline by
// the CLI, or wait Pending until `approve node`; a pending host is listed with its key id,
// has no vote and its reports do not count; `delete node` takes a host out of membership
// and every voter set; a rogue built from the production network code cannot take a Left
// host's name, nor publish names under keys that are not its peer's.

import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Topics } from '../../agent/network/constants.js'
import { call } from '../../cli/client.js'
import { signEnvelope } from '../../core/envelope.js'
import { keyId } from '../../core/keys.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, manifest, waitFor, type NodeItem, type TestAgent } from '../helpers/cluster.js'
import { startRogue, type Rogue } from '../helpers/rogue.js'
import { writeFile } from 'node:fs/promises'

type Item = NodeItem & { status: NodeItem['status'] & { keyId: string; admission?: string } }

describe('node admission', () => {
  let cluster: TestCluster
  let a1: TestAgent
  let a2: TestAgent
  let a3: TestAgent
  let rogue: Rogue | undefined
  let tokenFile: string

  const nodes = async (a: TestAgent): Promise<Item[]> => (await a.nodes()) as Item[]
  const stateOf = async (a: TestAgent, name: string): Promise<string | undefined> => (await nodes(a)).find((n) => n.metadata.name === name)?.status.state
  const voters = async (a: TestAgent): Promise<string[]> => (await call<{ voters: string[] }>(a.target, 'GET', '/v1/lease')).voters
  const keyOf = async (a: TestAgent, name: string): Promise<string> => {
    const n = (await nodes(a)).find((x) => x.metadata.name === name)
    assert.ok(n, `${name} listed`)
    return n.status.keyId
  }
  const desired = async (a: TestAgent): Promise<number> => {
    const r = await runCli('get', 'ds', 'sa-adm-ds', '-o', 'json', '--agent', a.target.address)
    return (JSON.parse(r.stdout) as { status: { desiredNumberScheduled: number } }).status.desiredNumberScheduled
  }
  const cli = async (...args: string[]): Promise<string> => {
    const r = await runCli(...args, '--agent', a1.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    return r.stdout
  }

  before(async () => {
    cluster = await TestCluster.create('sa-adm', 3000)
    tokenFile = join(cluster.root, 'edge.token')
    const made = await runCli('token', 'create', '--ttl', '1h', '--names', 'sa-adm-*', '--uses', '2', '--out', tokenFile, '--key', cluster.operatorKeyFile)
    assert.equal(made.code, 0, made.stderr)
    assert.match(made.stdout, /^join token \S+ written to .*: valid until .* for names sa-adm-\*, 2 hosts\n$/)
    a1 = await cluster.agent({ name: 'sa-adm-1', admission: 'enforced', joinToken: tokenFile }).start()
    const boot = await a1.address()
    a2 = await cluster.agent({ name: 'sa-adm-2', admission: 'enforced', joinToken: tokenFile, bootstrap: [boot] }).start()
    a3 = await cluster.agent({ name: 'sa-adm-3', admission: 'enforced', bootstrap: [boot] }).start()
    await waitFor('3 listed at sa-adm-1', async () => (await nodes(a1)).length === 3, 20_000)
  })

  after(async () => {
    await rogue?.net.stop().catch(() => undefined)
    await cluster?.stopAll()
  })

  it('hosts with the join token are members; a host without one is Pending with its key id, and has no vote', async () => {
    await waitFor('sa-adm-2 Alive at sa-adm-1', async () => (await stateOf(a1, 'sa-adm-2')) === 'Alive', 20_000)
    await waitFor('sa-adm-3 Pending at both', async () => (await stateOf(a1, 'sa-adm-3')) === 'Pending' && (await stateOf(a2, 'sa-adm-3')) === 'Pending', 20_000)
    const k3 = await keyOf(a1, 'sa-adm-3')
    const pending = (await nodes(a1)).find((n) => n.metadata.name === 'sa-adm-3')
    assert.match(pending?.status.admission ?? '', /not admitted: daemonmesh approve node sa-adm-3/)
    const table = await runCli('get', 'nodes', '--agent', a1.target.address)
    assert.match(table.stdout, /^sa-adm-3 +Pending/m)
    for (const a of [a1, a2]) {
      const v = await voters(a)
      assert.equal(v.length, 2, `${a.name} counts two voters`)
      assert.ok(!v.includes(k3), `${a.name}: the pending host is no voter`)
    }
  })

  it("a pending host's reports do not count: a DaemonSet is desired on the two members only", async () => {
    await cli('apply', '-f', await writeManifest(cluster.root))
    await waitFor('desired 2 at sa-adm-1', async () => (await desired(a1)) === 2, 15_000)
  })

  it('approve node admits the key that asks for the name: it votes and counts', async () => {
    const k3 = await keyOf(a1, 'sa-adm-3')
    assert.match(await cli('approve', 'node', 'sa-adm-3'), new RegExp(`^node/sa-adm-3 approved \\(key ${k3}\\)\n$`))
    await waitFor('sa-adm-3 Alive and a voter at all three', async () => {
      for (const a of [a1, a2, a3]) if ((await stateOf(a, 'sa-adm-3')) !== 'Alive' || !(await voters(a)).includes(k3)) return false
      return true
    }, 20_000)
    await waitFor('desired 3', async () => (await desired(a2)) === 3, 15_000)
  })

  it('a rogue cannot take a Left member\'s name, nor publish names under keys that are not its peer\'s', async () => {
    rogue = await startRogue(cluster.clusterKeyFile, cluster.root)
    const r = rogue
    await r.net.dial(await a1.address())
    await waitFor('rogue in the gossip mesh', () => r.net.topicPeers(Topics.nodes).length > 0, 10_000)
    const k2 = await keyOf(a1, 'sa-adm-2')
    await a2.stop('SIGTERM')
    await waitFor('sa-adm-2 Left', async () => (await stateOf(a1, 'sa-adm-2')) === 'Left', 15_000)
    const record = (name: string, peerId: string): Record<string, unknown> => ({ name, peerId, addresses: [], labels: {}, taints: [], conditions: [], version: 'x', state: 'alive', startedAt: Date.now(), incarnation: 0, pods: {} })
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
    const before = (await a1.health()).rejected
    const hoard = Array.from({ length: 20 }, () => generateKeyPairSync('ed25519').privateKey)
    await waitFor('every forged record rejected', async () => {
      // The Left member's name, under the rogue's own key and peer id.
      await r.net.publish(Topics.nodes, enc(signEnvelope(`node/${r.keyId}`, record('sa-adm-2', r.net.peerId), { wall: Date.now(), logical: 0 }, r.signingKey)))
      // Twenty names, each under a fresh key, all naming the rogue's one peer id.
      for (const [i, k] of hoard.entries()) await r.net.publish(Topics.nodes, enc(signEnvelope(`node/${keyId(k)}`, record(`sa-hoard-${i}`, r.net.peerId), { wall: Date.now(), logical: 0 }, k)))
      return (await a1.health()).rejected >= before + 21
    }, 20_000, 1000)
    const listed = await nodes(a1)
    assert.deepEqual(listed.filter((n) => n.metadata.name.startsWith('sa-hoard-')), [], 'no hoarded name is listed')
    const s2 = listed.filter((n) => n.metadata.name === 'sa-adm-2')
    assert.deepEqual(s2.map((n) => n.status.keyId), [k2], 'sa-adm-2 is still its own key only')
    // The real host comes back under its name.
    await a2.start()
    await waitFor('sa-adm-2 Alive again', async () => (await stateOf(a1, 'sa-adm-2')) === 'Alive', 20_000)
  })

  it('delete node takes a host out of membership and every voter set; its key is refused until approved again', async () => {
    const k3 = await keyOf(a1, 'sa-adm-3')
    assert.match(await cli('delete', 'node', 'sa-adm-3'), /^node\/sa-adm-3 deleted \(key \S+ refused until approved again\)\n$/)
    await waitFor('sa-adm-3 gone at sa-adm-1 and sa-adm-2, and no voter', async () => {
      for (const a of [a1, a2]) if ((await nodes(a)).some((n) => n.metadata.name === 'sa-adm-3') || (await voters(a)).includes(k3)) return false
      return true
    }, 20_000)
    await waitFor('desired 2 again', async () => (await desired(a1)) === 2, 15_000)
    // A restart does not bring it back: its records are refused.
    await a3.stop('SIGTERM')
    const before = (await a1.health()).rejected
    await a3.start()
    await waitFor('its new record refused at sa-adm-1', async () => (await a1.health()).rejected > before, 15_000)
    assert.equal((await nodes(a1)).some((n) => n.metadata.name === 'sa-adm-3'), false)
    assert.match(await cli('approve', 'node', 'sa-adm-3', '--key-id', k3), /approved/)
    await waitFor('sa-adm-3 back after approval', async () => (await stateOf(a1, 'sa-adm-3')) === 'Alive' && (await voters(a1)).includes(k3), 20_000)
  })
})

async function writeManifest(root: string): Promise<string> {
  const f = join(root, 'sa-adm-ds.yaml')
  await writeFile(f, manifest('sa-adm-ds'))
  return f
}
