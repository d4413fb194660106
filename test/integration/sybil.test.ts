// A Sybil flood against real agents (admission enforced): a rogue built from the production
// network code holds the cluster key and pushes 5,000 node records, each under a fresh key
// and self-signed (web-1…web-5000), first as one anti-entropy frame, then within the frame
// caps through the production AntiEntropy. None becomes a member or a voter, the pending
// records stay bounded, the agents keep answering, a DaemonSet applied meanwhile spreads,
// the honest members stay Alive, and the event loop is never held near the suspicion window.
// A rogue repeating cheap offers is refused past its per-peer budget.

import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { MAX_PENDING_RECORDS, recordAuthorizer } from '../../agent/membership/records.js'
import { Metrics } from '../../agent/metrics.js'
import { MAX_SYNC_FRAME_BYTES, SYNC_PROTOCOL, Topics } from '../../agent/network/constants.js'
import { peerIdOfKeyId } from '../../agent/network/keys.js'
import { AntiEntropy } from '../../agent/store/sync.js'
import { defaultTimings } from '../../agent/defaults.js'
import { systemClock } from '../../agent/clock.js'
import { call } from '../../cli/client.js'
import { metricsText, sample } from '../helpers/metrics-text.js'
import { LwwMap } from '../../core/crdt.js'
import { differingBuckets } from '../../core/digest.js'
import { signEnvelope } from '../../core/envelope.js'
import { keyId } from '../../core/keys.js'
import { parseDaemonSet } from '../../core/manifest.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type NodeItem, type TestAgent } from '../helpers/cluster.js'
import { rawDs } from '../helpers/fixtures.js'
import { answerProbes, startRogue, type Rogue } from '../helpers/rogue.js'

const FORGED = 5000
const SUSPICION_MS = 3000
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const dec = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b))

describe('a Sybil flood of 5,000 freshly keyed node records', () => {
  let cluster: TestCluster
  let a1: TestAgent
  let a2: TestAgent
  let rogue: Rogue | undefined
  const forged = new LwwMap(recordAuthorizer)

  const nodes = async (a: TestAgent): Promise<NodeItem[]> => a.nodes()
  const voters = async (a: TestAgent): Promise<string[]> => (await call<{ voters: string[] }>(a.target, 'GET', '/v1/lease')).voters

  before(async () => {
    cluster = await TestCluster.create('sy-syb', SUSPICION_MS)
    const tokenFile = join(cluster.root, 'sy.token')
    const made = await runCli('token', 'create', '--ttl', '1h', '--names', 'sy-syb-*', '--uses', '2', '--out', tokenFile, '--key', cluster.operatorKeyFile)
    assert.equal(made.code, 0, made.stderr)
    a1 = await cluster.agent({ name: 'sy-syb-1', admission: 'enforced', joinToken: tokenFile }).start()
    a2 = await cluster.agent({ name: 'sy-syb-2', admission: 'enforced', joinToken: tokenFile, bootstrap: [await a1.address()] }).start()
    await waitFor('both Alive at both', async () => {
      for (const a of [a1, a2]) if ((await nodes(a)).filter((n) => n.status.state === 'Alive').length !== 2) return false
      return true
    }, 20_000)
    // 5,000 records, each under its own fresh key, naming that key's own peer id.
    const now = Date.now()
    for (let i = 1; i <= FORGED; i++) {
      const k = generateKeyPairSync('ed25519').privateKey
      const id = keyId(k)
      const record = { name: `web-${i}`, peerId: peerIdOfKeyId(id), addresses: [], labels: {}, taints: [], conditions: [{ type: 'Ready', status: 'True' }], version: 'x', state: 'alive', startedAt: now, incarnation: 0, pods: {} }
      assert.equal(forged.merge(signEnvelope(`node/${id}`, record, { wall: now, logical: 0 }, k)).status, 'applied')
    }
    rogue = await startRogue(cluster.clusterKeyFile, cluster.root)
    await answerProbes(rogue)
    await rogue.net.dial(await a1.address())
  })

  after(async () => {
    await rogue?.net.stop().catch(() => undefined)
    await cluster?.stopAll()
  })

  it("a pending key has no say: its failure notices about a member do not count", async () => {
    const r = rogue as Rogue
    await waitFor('rogue in the gossip mesh', () => r.net.topicPeers(Topics.nodes).length > 0, 10_000)
    const own = (seq: number): Uint8Array => enc(signEnvelope(`node/${r.keyId}`, { name: 'sy-rogue', peerId: r.net.peerId, addresses: [], labels: { seq: String(seq) }, taints: [], conditions: [], version: 'x', state: 'alive', startedAt: Date.now(), incarnation: 0, pods: {} }, { wall: Date.now(), logical: seq }, r.signingKey))
    const labelOf = async (): Promise<string | undefined> => (await nodes(a1)).find((n) => n.metadata.name === 'sy-rogue')?.metadata.labels?.seq
    await waitFor('the rogue listed Pending', async () => {
      await r.net.publish(Topics.nodes, own(1))
      return (await nodes(a1)).find((n) => n.metadata.name === 'sy-rogue')?.status.state === 'Pending'
    }, 10_000, 500)
    const k2 = ((await nodes(a1)).find((n) => n.metadata.name === 'sy-syb-2')?.status as { keyId?: string } | undefined)?.keyId
    assert.ok(k2)
    // Declared failed at the largest incarnation (a member could never refute it), then a record that a1 takes after the notices.
    await r.net.publish(Topics.nodes, enc({ t: 'failed', keyId: k2, incarnation: 2 ** 31 }))
    await r.net.publish(Topics.nodes, enc({ t: 'suspect', keyId: k2, incarnation: 2 ** 31 }))
    await r.net.publish(Topics.nodes, own(2))
    await waitFor('the later record taken', async () => (await labelOf()) === '2' || undefined, 10_000)
    assert.equal(await a1.nodeState('sy-syb-2'), 'Alive')
  })

  it('one frame of 5,000 records is refused whole (over the frame cap); none is taken', async () => {
    const r = rogue as Rogue
    const peer = (await a1.health()).peerId
    const channel = await r.net.open(peer, SYNC_PROTOCOL, { maxFrameBytes: MAX_SYNC_FRAME_BYTES, timeoutMs: 10_000 })
    const empty = new LwwMap(recordAuthorizer)
    await channel.write(enc({ store: { root: empty.digest(), size: 0 }, nodes: { root: forged.digest(), size: forged.size } }))
    const views = dec(await channel.read()) as { nodes: { level: number; buckets: string } }
    const { level } = views.nodes
    const differ = differingBuckets(forged.bucketHashes(level), Buffer.from(views.nodes.buckets, 'base64'))
    await channel.write(enc({ store: { buckets: [], entries: [] }, nodes: forged.summary(level, differ, 4096) }))
    const answer = dec(await channel.read()) as { nodes: { want: string[] } }
    assert.ok(answer.nodes.want.length > 512, 'the agent asks for what it lacks')
    const all = [...forged.live('node/')]
    assert.equal(all.length, FORGED)
    const frame = enc({ store: [], nodes: all })
    assert.ok(frame.length < MAX_SYNC_FRAME_BYTES, `one frame of ${frame.length} bytes`)
    await channel.write(frame)
    // The responder ends the exchange (it has no frame 5 to answer): its handler is done.
    await channel.read().then(
      () => assert.fail('the responder sent another frame'),
      () => undefined,
    )
    await channel.close().catch(() => undefined)
    assert.equal((await nodes(a1)).filter((n) => n.metadata.name.startsWith('web-')).length, 0)
  })

  it('the same records within the caps, through the production anti-entropy: none is a member or a voter, pending stays bounded, and the fleet goes on', async (t) => {
    const r = rogue as Rogue
    const peer = (await a1.health()).peerId
    const votersBefore = (await voters(a1)).sort()
    assert.equal(votersBefore.length, 2)
    const initiator = new AntiEntropy({
      transport: r.net,
      clock: systemClock,
      maps: [
        { name: 'store', map: new LwwMap(() => 'the rogue keeps no store'), merge: async () => 0 },
        { name: 'nodes', map: forged, merge: async () => 0 },
      ],
      periodMs: 60_000,
      timings: defaultTimings(),
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
    })
    await metricsText(a1.target) // resets the event loop's lag maximum
    const rejectedBefore = (await a1.health()).rejected
    // Meanwhile: the API's answers are timed, the honest members watched, and a DaemonSet applied at a2.
    let flooding = true
    let slowest = 0
    const notAlive: string[] = []
    const watch = (async () => {
      while (flooding) {
        const t0 = performance.now()
        const listed = await nodes(a1)
        slowest = Math.max(slowest, performance.now() - t0)
        for (const n of listed) if (n.metadata.name.startsWith('sy-syb-') && n.status.state !== 'Alive') notAlive.push(`${n.metadata.name} ${n.status.state}`)
        await new Promise((res) => setTimeout(res, 100))
      }
    })()
    const d = parseDaemonSet(rawDs({}, { metadata: { name: 'sy-during' } })).daemonSet
    assert.ok(d)
    await call(a2.target, 'POST', '/v1/envelopes', signEnvelope('ds/default/sy-during', d, { wall: Date.now(), logical: 0 }, cluster.operatorKey))
    // Every forged record offered at least once: each round sends up to 512 of those a1 still lacks.
    const deadline = Date.now() + 60_000
    try {
      while ((await a1.health()).rejected - rejectedBefore < FORGED - MAX_PENDING_RECORDS && Date.now() < deadline) await initiator.round(peer)
    } finally {
      flooding = false
      await watch
    }
    const lag = sample(await metricsText(a1.target), 'nodejs_eventloop_lag_max_seconds')
    assert.ok((await a1.health()).rejected - rejectedBefore >= FORGED - MAX_PENDING_RECORDS, 'every record past the bound refused')
    await waitFor('sy-during at a1', async () => (await a1.daemonSets()).some((x) => x.metadata.name === 'sy-during'), 15_000)
    t.diagnostic(`API slowest ${Math.round(slowest)} ms, event loop lag max ${lag} s, forged records refused ${(await a1.health()).rejected - rejectedBefore}`)
    for (const a of [a1, a2]) {
      const listed = await nodes(a)
      const web = listed.filter((n) => n.metadata.name.startsWith('web-'))
      assert.ok(web.length > 0 && web.length <= MAX_PENDING_RECORDS, `${a.name} lists ${web.length} forged records`)
      assert.deepEqual(web.filter((n) => n.status.state !== 'Pending').map((n) => n.metadata.name), [], `${a.name}: every forged record is Pending`)
      assert.deepEqual((await voters(a)).sort(), votersBefore, `${a.name}: the voters are the two members`)
      assert.equal(listed.filter((n) => n.status.state === 'Alive').length, 2)
    }
    assert.deepEqual(notAlive, [], 'the honest members stayed Alive')
    assert.ok(slowest < SUSPICION_MS, `the API answered within ${Math.round(slowest)} ms at worst`)
    assert.ok(lag < SUSPICION_MS / 1000, `event loop held at most ${lag} s`)
  })

  it('a peer repeating cheap offers is refused past its budget, with the reason logged', async () => {
    const r = rogue as Rogue
    // Dialled again when needed: an agent hangs up on a peer it declares Unreachable (the rogue
    // answers probes, but a starved machine can miss them), and the budget, not the
    // connection, is what this case is about.
    const address = await a1.address()
    const peer = await r.net.dial(address)
    const empty = new LwwMap(recordAuthorizer)
    const offer = enc({ store: { root: empty.digest(), size: 0 }, nodes: { root: empty.digest(), size: 0 } })
    let refused = 0
    for (let i = 0; i < 40 && refused === 0; i++) {
      const channel = await r.net.open(peer, SYNC_PROTOCOL, { maxFrameBytes: MAX_SYNC_FRAME_BYTES, timeoutMs: 5000 }, [`${address}/p2p/${peer}`])
      await channel.write(offer)
      await channel.read().then(
        () => undefined,
        () => refused++,
      )
      await channel.close().catch(() => undefined)
    }
    assert.equal(refused, 1, 'an offer went unanswered')
    await waitFor('the refusal logged', async () => /anti-entropy exchange refused: the peer is over its budget/.test(await readFile(join(a1.dir, 'agent.log'), 'utf8')) || undefined, 5000)
  })
})
