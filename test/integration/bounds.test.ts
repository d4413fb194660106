// Bounds at every border, against real agents: far-future timestamps (API and gossip),
// out-of-range numbers in node records, an oversized write, and overlays that would make a
// node's own record invalid. A refused write is never stored and never spreads.

import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { call } from '../../cli/client.js'
import { signEnvelope } from '../../core/envelope.js'
import { parseDaemonSet } from '../../core/manifest.js'
import { Topics } from '../../agent/network/constants.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { runCli } from '../helpers/cli.js'
import { rawDs } from '../helpers/fixtures.js'
import { startRogue, type Rogue } from '../helpers/rogue.js'

type Refusal = Error & { status?: number }
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const dsValue = (name: string, annotations: Record<string, string> = {}) => {
  const d = parseDaemonSet(rawDs({}, { metadata: { name, annotations } })).daemonSet
  assert.ok(d)
  return d
}

describe('bounds at every border', () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  let rogue: Rogue | undefined

  const post = (a: TestAgent, env: unknown): Promise<unknown> => call(a.target, 'POST', '/v1/envelopes', env)

  before(async () => {
    cluster = await TestCluster.create('sl-bounds', 3000)
    agents = await cluster.startMany('sl-b', 2)
    await waitFor('2 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 2), 20_000)
  })

  after(async () => {
    await rogue?.net.stop()
    await cluster.stopAll()
  })

  it('the API refuses an envelope more than 60 s ahead (an HLC nobody could ever supersede), and stores nothing', async () => {
    const a = agents[0] as TestAgent
    const far = { ...signEnvelope('ds/default/sl-future', dsValue('sl-future'), { wall: Date.now() + 120_000, logical: 0 }, cluster.operatorKey) }
    await assert.rejects(post(a, far), (e: Refusal) => e.status === 400 && /more than 60 s ahead/.test(e.message))
    const max = signEnvelope('ds/default/sl-future', dsValue('sl-future'), { wall: 999_999_999_999_999, logical: 999_999 }, cluster.operatorKey)
    assert.equal(max.hlc, '999999999999999.999999')
    await assert.rejects(post(a, max), (e: Refusal) => e.status === 400 && /ahead/.test(e.message))
    // Within the bound: accepted.
    await post(a, signEnvelope('ds/default/sl-near', dsValue('sl-near'), { wall: Date.now() + 30_000, logical: 0 }, cluster.operatorKey))
    for (const x of agents) await waitFor(`${x.name} has sl-near only`, async () => (await x.daemonSets()).map((d) => d.metadata.name).join() === 'sl-near' || undefined, 10_000)
  })

  it('an oversized write (a 600 KB DaemonSet) is refused before it is stored, and does not spread', async () => {
    const a = agents[0] as TestAgent
    const big = signEnvelope('ds/default/sl-big', dsValue('sl-big', { 'sl.example/blob': 'x'.repeat(200_000), 'sl.example/blob2': 'y'.repeat(200_000), 'sl.example/blob3': 'z'.repeat(200_000) }), { wall: Date.now(), logical: 0 }, cluster.operatorKey)
    assert.ok(JSON.stringify(big).length > 600_000)
    await assert.rejects(post(a, big), (e: Refusal) => e.status === 400 && /exceeds 262144 bytes/.test(e.message))
    await new Promise((r) => setTimeout(r, 1500))
    for (const x of agents) assert.ok(!(await x.daemonSets()).some((d) => d.metadata.name === 'sl-big'), `${x.name} stored the refused write`)
  })

  it('an overlay is checked with the record\'s own rules: bad label keys, bad taint effects and 300 labels are refused', async () => {
    const a = agents[0] as TestAgent
    const overlay = (o: Record<string, unknown>) => signEnvelope('nodes/sl-b-2', { labels: {}, removeLabels: [], taints: [], removeTaints: [], ...o }, { wall: Date.now(), logical: 0 }, cluster.operatorKey)
    await assert.rejects(post(a, overlay({ labels: { 'bad key!': 'v' } })), (e: Refusal) => e.status === 400 && /labels: Invalid value: "bad key!"/.test(e.message))
    await assert.rejects(post(a, overlay({ taints: [{ key: 'k', effect: 'Bogus' }] })), (e: Refusal) => e.status === 400 && /taints\[0\]\.effect: Unsupported value: "Bogus"/.test(e.message))
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`sl.example/l${i}`, 'v']))
    await assert.rejects(post(a, overlay({ labels: many })), (e: Refusal) => e.status === 400 && /at most 128 labels/.test(e.message))
    // The CLI's own check agrees, and a good overlay still works.
    const bad = await runCli('label', 'node', 'sl-b-2', 'bad key!=v', '--agent', a.target.address, '--key', cluster.operatorKeyFile)
    assert.notEqual(bad.code, 0, 'the CLI refuses a bad label key')
    const good = await runCli('label', 'node', 'sl-b-2', 'sl-zone=a', '--agent', a.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(good.code, 0, good.stderr)
    await waitFor('sl-b-2 labelled', async () => (await a.nodes()).find((n) => n.metadata.name === 'sl-b-2')?.metadata.labels['sl-zone'] === 'a' || undefined, 10_000)
  })

  it('gossip: records with out-of-range or far-future numbers are refused, and get nodes keeps answering', async () => {
    const dir = join(cluster.root, 'sl-rogue')
    await mkdir(dir, { recursive: true })
    rogue = await startRogue(cluster.clusterKeyFile, dir)
    const r = rogue
    const target = agents[0] as TestAgent
    await r.net.dial(await target.address())
    await waitFor('rogue in the gossip mesh', () => r.net.topicPeers(Topics.nodes).length > 0, 10_000)
    const record = (over: Record<string, unknown>) => ({ name: 'sl-rogue', peerId: r.net.peerId, addresses: [], labels: {}, taints: [], conditions: [], version: 'x', state: 'alive', startedAt: Date.now(), incarnation: 0, pods: {}, ...over })
    const publish = (value: unknown, wall = Date.now()) => r.net.publish(Topics.nodes, enc(signEnvelope(`node/${r.keyId}`, value, { wall, logical: 0 }, r.signingKey)))
    const before = (await target.health()).rejected
    await waitFor('the target to refuse the four bad records', async () => {
      await publish(record({ startedAt: 1e300 }))
      await publish(record({ startedAt: Date.now() + 600_000 }))
      await publish(record({ pods: { 'default/x': { revision: 'r', phase: 'Running', ready: true, restarts: 0, since: 1e300 } } }))
      await publish(record({}), Date.now() + 600_000)
      return (await target.health()).rejected >= before + 4 || undefined
    }, 20_000, 1000)
    for (const a of agents) {
      assert.equal(await a.nodeState('sl-rogue'), undefined, `${a.name} took a bad record`)
      const got = await runCli('get', 'nodes', '--agent', a.target.address)
      assert.equal(got.code, 0, got.stderr)
    }
    const log = await target.logTail(400)
    assert.match(log, /startedAt: \d+ is more than 60 s ahead/)
    assert.match(log, /hlc \d{15}\.\d{6} is more than 60 s ahead/)
  })
})
