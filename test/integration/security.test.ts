// Trust: the cluster key gates membership; operator signatures gate writes; a host speaks
// only for itself. Real agents, real libp2p, a real rogue peer.

import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { call } from '../../cli/client.js'
import { signEnvelope } from '../../core/envelope.js'
import { generateClusterKey, generateKeyPair } from '../../core/keys.js'
import { viewOf } from '../../core/lease.js'
import { parseDaemonSet } from '../../core/manifest.js'
import { revisionOf } from '../../core/revision.js'
import { MAX_LEASE_FRAME_BYTES } from '../../agent/lease/lease.js'
import { LEASE_PROTOCOL, Topics } from '../../agent/network/constants.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { runCli } from '../helpers/cli.js'
import { rawDs } from '../helpers/fixtures.js'
import { startRogue, type Rogue } from '../helpers/rogue.js'

const dsValue = (name: string) => {
  const d = parseDaemonSet(rawDs({}, { metadata: { name } })).daemonSet
  assert.ok(d)
  return d
}

describe('trust boundaries', () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  let rogue: Rogue | undefined

  before(async () => {
    cluster = await TestCluster.create('sec', 3000)
    agents = await cluster.startMany('s', 3)
    await waitFor('3 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 20_000)
  })

  after(async () => {
    await rogue?.net.stop()
    await cluster.stopAll()
  })

  it('an agent with the wrong cluster key cannot join', async () => {
    const wrong = join(cluster.root, 'wrong.key')
    await writeFile(wrong, generateClusterKey())
    const outsider = await cluster.agent({ name: 's-outsider', clusterKey: wrong, bootstrap: [await (agents[0] as TestAgent).address()] }).start()
    await new Promise((r) => setTimeout(r, 3000))
    assert.equal((await outsider.health()).peers, 0)
    assert.deepEqual((await outsider.nodes()).map((n) => n.metadata.name), ['s-outsider'])
    for (const a of agents) assert.equal(await a.nodeState('s-outsider'), undefined)
    await outsider.stop('SIGKILL')
  })

  it('the API refuses an envelope signed by an untrusted key, and it does not spread', async () => {
    const stranger = generateKeyPair()
    const env = signEnvelope('ds/default/evil', dsValue('evil'), { wall: Date.now(), logical: 0 }, createPrivateKey(stranger.privateKeyPem))
    await assert.rejects(call((agents[0] as TestAgent).target, 'POST', '/v1/envelopes', env), (e: Error & { status?: number }) => e.status === 403 && /not a trusted operator key/.test(e.message))
    for (const a of agents) assert.deepEqual(await a.daemonSets(), [])
  })

  it('the API refuses an envelope altered after signing', async () => {
    const env = signEnvelope('ds/default/good', dsValue('good'), { wall: Date.now(), logical: 0 }, cluster.operatorKey)
    const altered = { ...env, value: { ...dsValue('good'), metadata: { name: 'good', namespace: 'default', labels: { evil: 'yes' } } } }
    await assert.rejects(call((agents[0] as TestAgent).target, 'POST', '/v1/envelopes', altered), (e: Error & { status?: number }) => e.status === 403 && /bad signature/.test(e.message))
    await assert.rejects(call((agents[0] as TestAgent).target, 'POST', '/v1/envelopes', { ...env, sig: undefined }), (e: Error & { status?: number }) => e.status === 400)
    for (const a of agents) assert.deepEqual(await a.daemonSets(), [])
  })

  it('a trusted envelope with an invalid DaemonSet is refused with the field at fault', async () => {
    const bad = { ...dsValue('bad'), spec: { ...dsValue('bad').spec, template: { ...dsValue('bad').spec.template, spec: { containers: [{ name: 'c' }] } } } }
    const env = signEnvelope('ds/default/bad', bad, { wall: Date.now(), logical: 0 }, cluster.operatorKey)
    await assert.rejects(call((agents[0] as TestAgent).target, 'POST', '/v1/envelopes', env), (e: Error & { status?: number }) => e.status === 400 && /containers\[0\]\.image: required/.test(e.message))
  })

  it('a rogue peer with the cluster key cannot inject writes or speak for another host', async () => {
    rogue = await startRogue(cluster.clusterKeyFile, cluster.root)
    const target = agents[0] as TestAgent
    await rogue.net.dial(await target.address())
    await waitFor('rogue in the gossip mesh', () => rogue !== undefined && rogue.net.topicPeers(Topics.store).length > 0 && rogue.net.topicPeers(Topics.nodes).length > 0, 10_000)
    const before = await Promise.all(agents.map(async (a) => (await a.health()).rejected))
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

    const victim = (await target.nodes()).find((n) => n.metadata.name === 's-2')
    assert.ok(victim)
    const victimKeyId = (victim.status as unknown as { keyId: string }).keyId
    const forgedRecord = { name: 's-2', peerId: victim.status.peerId, addresses: [], labels: { owned: 'yes' }, taints: [], conditions: [], version: 'x', state: 'left', startedAt: 0, pods: {} }
    const r = rogue
    const sendAll = async (): Promise<void> => {
      // 1. A DaemonSet signed by the rogue's own key.
      await r.net.publish(Topics.store, enc(signEnvelope('ds/default/evil', dsValue('evil'), { wall: Date.now(), logical: 0 }, r.signingKey)))
      // 2. A node record under another host's key id, signed by the rogue.
      await r.net.publish(Topics.nodes, enc(signEnvelope(`node/${victimKeyId}`, forgedRecord, { wall: Date.now(), logical: 0 }, r.signingKey)))
      // 3. A record with the rogue's own key that claims the victim's name.
      await r.net.publish(Topics.nodes, enc(signEnvelope(`node/${r.keyId}`, { ...forgedRecord, peerId: r.net.peerId, state: 'alive' }, { wall: Date.now(), logical: 0 }, r.signingKey)))
      // 4. Garbage.
      await r.net.publish(Topics.store, new TextEncoder().encode('not json'))
    }
    // Until the target's gossip mesh includes the rogue, a publish may reach no one: repeat.
    await waitFor('the target to reject all four', async () => {
      await sendAll()
      return (await target.health()).rejected >= (before[0] ?? 0) + 4
    }, 20_000, 1000)
    await new Promise((r) => setTimeout(r, 1500))
    for (const a of agents) {
      assert.deepEqual(await a.daemonSets(), [], `${a.name} holds no injected DaemonSet`)
      const s2 = (await a.nodes()).filter((n) => n.metadata.name === 's-2')
      assert.equal(s2.length, 1, `${a.name} has one s-2`)
      assert.equal(s2[0]?.status.state, 'Alive')
      assert.equal(s2[0]?.metadata.labels.owned, undefined)
    }
    // Rejected messages are not relayed: the agents the rogue is not connected to saw nothing.
    const afterCounts = await Promise.all(agents.map(async (a) => (await a.health()).rejected))
    assert.equal(afterCounts[1], before[1])
    assert.equal(afterCounts[2], before[2])
  })

  it('a rogue peer with the cluster key but no node record cannot claim an update slot; malformed lease messages are rejected', async () => {
    const r = rogue as Rogue
    const target = agents[0] as TestAgent
    const f = join(cluster.root, 'leased.yaml')
    await writeFile(f, 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: leased}\nspec:\n  selector: {matchLabels: {app: leased}}\n  template:\n    metadata: {labels: {app: leased}}\n    spec:\n      containers: [{name: main, image: busybox:1.36}]\n')
    assert.equal((await runCli('apply', '-f', f, '--agent', target.target.address, '--key', cluster.operatorKeyFile)).code, 0)
    await waitFor('leased everywhere', async () => (await Promise.all(agents.map((a) => a.daemonSets()))).every((l) => l.length === 1), 10_000)
    const parsed = parseDaemonSet(JSON.parse(JSON.stringify((await target.daemonSets())[0])) as unknown).daemonSet
    assert.ok(parsed !== undefined)
    // A claim as a real member would make it: the right revision and voter set.
    const keyIds = (await target.nodes()).filter((n) => n.status.state !== 'Left').map((n) => (n.status as unknown as { keyId: string }).keyId)
    const claim = { t: 'claim', ds: 'default/leased', kind: 'unavailable', slot: 0, term: 1, revision: revisionOf(parsed), view: viewOf(keyIds).view }
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
    const before = (await target.health()).rejected
    // Lease messages go point to point: the rogue opens a lease channel to the target per message, as a claimant would.
    const targetPeer = await r.net.dial(await target.address())
    let answered = 0
    const ask = async (frame: Uint8Array): Promise<void> => {
      const channel = await r.net.open(targetPeer, LEASE_PROTOCOL, { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: 5000 })
      try {
        await channel.write(frame)
        await channel.read()
        answered++
      } catch {
        // closed or reset: no answer
      } finally {
        await channel.close().catch(() => undefined)
      }
    }
    await waitFor('the target to reject the malformed lease messages', async () => {
      await ask(enc(claim))
      await ask(enc({ ...claim, slot: -1 }))
      await ask(new TextEncoder().encode('{"t": "grant"'))
      return (await target.health()).rejected >= before + 2
    }, 20_000, 1000)
    assert.equal(answered, 0, 'the target answers no lease message of a peer no record names')
    await new Promise((res) => setTimeout(res, 1000))
    for (const a of agents) assert.deepEqual((await call<{ slots: unknown[] }>(a.target, 'GET', '/v1/lease')).slots, [], `${a.name} gave the rogue no slot`)
  })

  it('a TCP API requires its bearer token; the CLI reads it from a file', async () => {
    const token = 'a-token-of-enough-length-1234'
    const tcp = await cluster.agent({ name: 's-tcp', tcpApi: { address: 'http://127.0.0.1:17947', token } }).start()
    const anon = await runCli('get', 'nodes', '--agent', 'http://127.0.0.1:17947')
    assert.equal(anon.code, 1)
    assert.match(anon.stderr, /missing or wrong bearer token/)
    const tokenFile = join(cluster.root, 'cli.token')
    await writeFile(tokenFile, `${token}\n`)
    const ok = await runCli('get', 'nodes', '-o', 'name', '--agent', 'http://127.0.0.1:17947', '--token-file', tokenFile)
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /node\/s-tcp/)
    await tcp.stop('SIGTERM')
  })
})
