import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { AgentClock } from '../../../agent/clock.js'
import { defaultTimings } from '../../../agent/defaults.js'
import { recordAuthorizer } from '../../../agent/membership/membership.js'
import { Metrics } from '../../../agent/metrics.js'
import { SYNC_LIMITS, SYNC_PROTOCOL } from '../../../agent/network/constants.js'
import { Store } from '../../../agent/store/store.js'
import { AntiEntropy } from '../../../agent/store/sync.js'
import type { FrameChannel, Transport } from '../../../agent/transport.js'
import { LwwMap, versionOf } from '../../../core/crdt.js'
import { bucketOf } from '../../../core/digest.js'
import { signEnvelope, type Envelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { dsRef, StoreKey } from '../../../core/keyspace.js'
import type { NodeRecord } from '../../../core/node-record.js'
import { MemoryHub, type MemoryTransport } from '../../helpers/memory-transport.js'
import { VirtualClock } from '../../helpers/virtual-clock.js'

const PERIOD = 5000
const operator = generateKeyPair()
const operatorKey = parsePrivateKey(operator.privateKeyPem)
const dirs: string[] = []

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

interface Peer {
  transport: MemoryTransport
  store: Store
  nodes: LwwMap
  sync: AntiEntropy
  metrics: Metrics
  /** Bytes of the frames this peer's anti-entropy wrote (as initiator and as responder). */
  sent: { bytes: number }
}

/** counted wraps `t` so that every frame written on its channels, opened or served, adds to `sent`. */
function counted(t: Transport, sent: { bytes: number }): Transport {
  const wrap = (c: FrameChannel): FrameChannel => ({
    write: (frame) => {
      sent.bytes += frame.length
      return c.write(frame)
    },
    read: () => c.read(),
    close: () => c.close(),
  })
  return {
    peerId: t.peerId,
    addresses: () => t.addresses(),
    connectedPeers: () => t.connectedPeers(),
    publish: (topic, data) => t.publish(topic, data),
    subscribe: (topic, handler) => t.subscribe(topic, handler),
    serve: (protocol, handler, limits) => t.serve(protocol, (c, from, keyId) => handler(wrap(c), from, keyId), limits),
    open: async (peer, protocol, limits, addresses) => wrap(await t.open(peer, protocol, limits, addresses)),
    hangUp: (peer) => t.hangUp(peer),
    dial: (addr) => t.dial(addr),
    onConnect: (fn) => t.onConnect(fn),
    onDisconnect: (fn) => t.onDisconnect(fn),
  }
}

/** peer makes an agent's store (level, in a temporary directory) and its anti-entropy on `hub`. */
async function peer(hub: MemoryHub, clock: VirtualClock, name: string): Promise<Peer> {
  const dir = await mkdtemp(join(tmpdir(), `daemonmesh-sync-${name}-`))
  dirs.push(dir)
  const metrics = new Metrics()
  const log = pino({ level: 'silent' })
  const store = await Store.open({ path: dir, trusted: [operator.id], checkValue: () => undefined, clock: new AgentClock(clock), metrics, log })
  const nodes = new LwwMap(recordAuthorizer)
  const transport = hub.join(`peer-${name}`, generateKeyPair().id)
  const sent = { bytes: 0 }
  const sync = new AntiEntropy({
    transport: counted(transport, sent),
    clock,
    maps: [
      { name: 'store', map: store.map, merge: (envs) => store.mergeSynced(envs) },
      { name: 'nodes', map: nodes, merge: async (envs) => envs.filter((e) => nodes.merge(e).status === 'applied').length },
    ],
    periodMs: PERIOD,
    timings: defaultTimings(),
    metrics,
    log,
  })
  return { transport, store, nodes, sync, metrics, sent }
}

const put = (name: string, clock: VirtualClock): Envelope => signEnvelope(StoreKey.daemonSet(dsRef('default', name)), { name }, { wall: clock.wall(), logical: 0 }, operatorKey)

/** eventually polls `check` in real time: the store writes to disk, which virtual time does not cover. */
async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('anti-entropy', () => {
  it('a newcomer gets what it missed as soon as it connects', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    const env = put('web', clock)
    assert.equal((await a.store.apply(env, 'api')).status, 'applied')
    const changes: Envelope[] = []
    b.store.on('store:change', (e) => changes.push(e))
    await a.sync.start()
    await b.sync.start()
    await b.transport.dial(a.transport.addresses()[0] as string)
    await eventually('b to receive the entry', () => b.store.map.get(env.key) !== undefined)
    assert.deepEqual(b.store.map.get(env.key), env)
    assert.deepEqual(changes, [env], 'the repaired entry is announced as store:change')
    assert.equal(b.store.map.digest(), a.store.map.digest())
    a.sync.stop()
    b.sync.stop()
    await a.store.close()
    await b.store.close()
  })

  it('a store past 8 MiB (one frame\'s cap) still reaches a newcomer, over several exchanges', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    // 40 entries of 230 KiB: 9.2 MiB, each within an envelope's 256 KiB.
    for (let i = 0; i < 40; i++) {
      const env = signEnvelope(StoreKey.daemonSet(dsRef('default', `big-${i}`)), { blob: String(i).padEnd(230 * 1024, 'x') }, { wall: clock.wall(), logical: i }, operatorKey)
      assert.equal((await a.store.apply(env, 'api')).status, 'applied')
    }
    await a.sync.start()
    await b.sync.start()
    await b.transport.dial(a.transport.addresses()[0] as string)
    let rounds = 0
    const deadline = Date.now() + 60_000
    while (b.store.map.digest() !== a.store.map.digest()) {
      assert.ok(Date.now() < deadline, `after ${rounds} periods b has ${b.store.map.size} of 40`)
      await clock.advance(PERIOD)
      await new Promise((r) => setTimeout(r, 50))
      rounds++
    }
    assert.equal(b.store.map.size, 40)
    a.sync.stop()
    b.sync.stop()
    await a.store.close()
    await b.store.close()
  })

  it('the periodic exchange repairs an entry either side missed', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    await a.sync.start()
    await b.sync.start()
    await a.transport.dial(b.transport.addresses()[0] as string)
    await clock.advance(1)
    // Gossip missed both writes: each side has one the other lacks.
    const onA = put('only-on-a', clock)
    await clock.advance(1)
    const onB = put('only-on-b', clock)
    await a.store.apply(onA, 'api')
    await b.store.apply(onB, 'api')
    assert.notEqual(a.store.map.digest(), b.store.map.digest())
    await clock.advance(PERIOD)
    await eventually('both sides to converge', () => a.store.map.size === 2 && b.store.map.size === 2)
    assert.equal(a.store.map.digest(), b.store.map.digest())
    a.sync.stop()
    b.sync.stop()
    await a.store.close()
    await b.store.close()
  })

  it("a probe ack's differing fingerprint starts an exchange with its sender at once, at most one per nudgeSpacingMs", async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    await a.sync.start()
    await b.sync.start()
    await a.transport.dial(b.transport.addresses()[0] as string)
    await clock.advance(1)
    await eventually('the first exchange to end', () => a.sync.fingerprint() === b.sync.fingerprint())
    const missed = put('missed', clock)
    await b.store.apply(missed, 'api')
    assert.match(a.sync.fingerprint(), /^[0-9a-f]{16}$/)
    assert.notEqual(a.sync.fingerprint(), b.sync.fingerprint(), 'the fingerprint follows the store')
    // Far from the period: only the nudge can start the exchange.
    a.sync.differs(b.transport.peerId)
    await eventually('a to receive what it missed', () => a.store.map.get(missed.key) !== undefined)
    assert.equal(a.sync.fingerprint(), b.sync.fingerprint())
    const initiated = async (): Promise<number> => (await a.metrics.syncs.get()).values.filter((v) => v.labels.role === 'initiator').reduce((n, v) => n + v.value, 0)
    const until = async (n: number): Promise<void> => {
      for (const deadline = Date.now() + 5000; (await initiated()) < n && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10))
    }
    // The nudged exchange has ended (the store write ends it in real time, not virtual): a
    // nudge while one runs starts nothing, whatever the spacing.
    await until(2)
    await clock.advance(1)
    a.sync.differs(b.transport.peerId)
    await clock.advance(defaultTimings().sync.nudgeSpacingMs)
    a.sync.differs(b.transport.peerId)
    assert.equal((await a.metrics.syncNudges.get()).values[0]?.value, 2, 'the nudge inside the spacing started nothing')
    // The exchange on connecting, and one per nudge that counted.
    await until(3)
    assert.equal(await initiated(), 3)
    a.sync.stop()
    b.sync.stop()
    await a.store.close()
    await b.store.close()
  })

  it('an exchange with a peer that never answers ends at the deadline', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const mute = hub.join('peer-mute', generateKeyPair().id)
    await mute.serve(SYNC_PROTOCOL, () => new Promise(() => undefined), { maxFrameBytes: 1024, timeoutMs: 60_000, maxStreams: 4 })
    await a.transport.dial(mute.addresses()[0] as string)
    const round = a.sync.round('peer-mute')
    let done = false
    void round.then(() => (done = true))
    await clock.advance(defaultTimings().sync.exchangeTimeoutMs - 1)
    assert.equal(done, false, 'still waiting inside the deadline')
    await clock.advance(1)
    await round
    const syncs = await a.metrics.syncs.get()
    assert.deepEqual(
      syncs.values.map((v) => [v.labels.result, v.value]),
      [['error', 1]],
    )
    await a.store.close()
  })
})

// Bulk entries are signed once for the whole file (signing 10,000 takes a while).
const bulkCache: Envelope[] = []
const bulk = (n: number): Envelope[] => {
  for (let i = bulkCache.length; i < n; i++) bulkCache.push(signEnvelope(StoreKey.daemonSet(dsRef('default', `app-${i}`)), { name: `app-${i}` }, { wall: 1_000_000 + i, logical: 0 }, operatorKey))
  return bulkCache.slice(0, n)
}

/**
 * preload puts `envs` in a peer's store without merge rules: the test signed them itself, and
 * verifying 10,000 signatures per peer would only slow it down. The digest is kept up to date
 * by restore as by merge.
 */
const preload = (p: Peer, envs: readonly Envelope[]): void => {
  for (const e of envs) p.store.map.restore(e.key, e)
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const unjson = (b: Uint8Array): any => JSON.parse(new TextDecoder().decode(b))

const nodeKey = generateKeyPair()
const nodeRecordAt = (wall: number, labels: Record<string, string> = {}): Envelope =>
  signEnvelope(
    StoreKey.nodeRecord(nodeKey.id),
    { name: 'edge-1', peerId: 'peer-edge-1', addresses: [], labels, taints: [], conditions: [], version: 'test', state: 'alive', startedAt: 0, incarnation: 0, pods: {} } satisfies NodeRecord,
    { wall, logical: 0 },
    parsePrivateKey(nodeKey.privateKeyPem),
  )

describe('anti-entropy traffic', () => {
  /**
   * oneExchange gives two peers `shared` and `a` also `extra`, then measures one exchange `a`
   * starts with `b`: the bytes of every frame both wrote. Only b serves, so no other round runs.
   */
  async function oneExchange(shared: readonly Envelope[], extra: readonly Envelope[]): Promise<{ bytes: number; a: Peer; b: Peer }> {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    preload(a, shared)
    preload(b, shared)
    for (const e of extra) assert.equal((await a.store.apply(e, 'api')).status, 'applied')
    await b.sync.start()
    await a.transport.dial(b.transport.addresses()[0] as string)
    // b's round on connect fails at once (a does not serve); let it, then count from zero.
    await new Promise((r) => setImmediate(r))
    a.sent.bytes = 0
    b.sent.bytes = 0
    await a.sync.round(b.transport.peerId)
    const syncs = await a.metrics.syncs.get()
    assert.deepEqual(
      syncs.values.map((v) => [v.labels.role, v.labels.result, v.value]),
      [['initiator', 'ok', 1]],
    )
    b.sync.stop()
    await a.store.close()
    await b.store.close()
    return { bytes: a.sent.bytes + b.sent.bytes, a, b }
  }

  it('two agents in sync exchange a few hundred bytes, with 10 entries as with 10,000', async (t) => {
    const small = await oneExchange(bulk(10), [])
    const large = await oneExchange(bulk(10_000), [])
    const fullSummary = Buffer.byteLength(JSON.stringify(Object.fromEntries(bulk(10_000).map((e) => [e.key, versionOf(e)]))))
    t.diagnostic(`in sync: 10 entries ${small.bytes} B, 10,000 entries ${large.bytes} B (a key -> version summary of 10,000 entries: ${fullSummary} B)`)
    assert.ok(small.bytes < 400, `${small.bytes} bytes for 10 entries`)
    assert.ok(large.bytes < 400, `${large.bytes} bytes for 10,000 entries`)
    assert.ok(Math.abs(large.bytes - small.bytes) <= 16, `10 entries: ${small.bytes} B, 10,000: ${large.bytes} B`)
  })

  it('one entry differing among 10,000 costs a few KiB, and arrives', async (t) => {
    const clock = new VirtualClock()
    const extra = put('the-one', clock)
    const { bytes, a, b } = await oneExchange(bulk(10_000), [extra])
    t.diagnostic(`one differing entry among 10,000: ${bytes} B (the envelope alone: ${Buffer.byteLength(JSON.stringify(extra))} B)`)
    assert.deepEqual(b.store.map.get(extra.key), extra)
    assert.equal(a.store.map.digest(), b.store.map.digest())
    assert.ok(bytes < 8 * 1024, `${bytes} bytes`)
  })
})

describe('anti-entropy bounds', () => {
  it('a node record refreshed on one side reaches the other through the exchange', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const b = await peer(hub, clock, 'b')
    const first = nodeRecordAt(1000)
    const refresh = nodeRecordAt(2000, { zone: 'north' })
    assert.equal(a.nodes.merge(first).status, 'applied')
    assert.equal(b.nodes.merge(first).status, 'applied')
    assert.equal(a.nodes.merge(refresh).status, 'applied')
    preload(a, bulk(50))
    preload(b, bulk(50))
    await a.sync.start()
    await b.transport.dial(a.transport.addresses()[0] as string)
    // b starts this one (a's own round on connect fails: b does not serve), so the record comes in the answer.
    await b.sync.round(a.transport.peerId)
    assert.deepEqual(b.nodes.get(refresh.key), refresh)
    assert.equal(b.nodes.digest(), a.nodes.digest())
    a.sync.stop()
    await a.store.close()
    await b.store.close()
  })

  it('a peer that lists every bucket and shows nothing gets at most maxEnvelopes envelopes; one that lists a bucket gets that bucket', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const many = bulk(SYNC_LIMITS.maxEnvelopes + 88)
    preload(a, many)
    await a.sync.start()
    const rogue = hub.join('peer-rogue', generateKeyPair().id)
    await rogue.dial(a.transport.addresses()[0] as string)
    const ask = async (listed: (level: number) => number[]): Promise<{ level: number; send: Envelope[]; want: string[] }> => {
      const ch = await rogue.open(a.transport.peerId, SYNC_PROTOCOL, { maxFrameBytes: 64 * 1024 * 1024, timeoutMs: 60_000 })
      await ch.write(json({ store: { root: '0'.repeat(64), size: 0 }, nodes: { root: a.nodes.digest(), size: 0 } }))
      const views = unjson(await ch.read())
      assert.equal(views.nodes, 'equal')
      const level = views.store.level as number
      await ch.write(json({ store: { buckets: listed(level), entries: [] }, nodes: { buckets: [], entries: [] } }))
      const answer = unjson(await ch.read())
      await ch.close()
      return { level, ...answer.store }
    }
    const all = await ask((level) => [...Array(1 << level).keys()])
    assert.equal(all.send.length, SYNC_LIMITS.maxEnvelopes, 'capped')
    assert.deepEqual(all.want, [])
    const one = await ask(() => [3])
    const inThree = many.filter((e) => bucketOf(e.key, one.level) === 3)
    assert.ok(inThree.length > 0)
    assert.deepEqual(new Set(one.send.map((e) => e.key)), new Set(inThree.map((e) => e.key)), 'bucket 3 and nothing else')
    a.sync.stop()
    await a.store.close()
  })

  it('a frame over its cap is refused, and the next exchange goes on', async () => {
    const clock = new VirtualClock()
    const hub = new MemoryHub(clock)
    const a = await peer(hub, clock, 'a')
    const env = put('web', clock)
    await a.store.apply(env, 'api')
    await a.sync.start()
    const rogue = hub.join('peer-rogue', generateKeyPair().id)
    await rogue.dial(a.transport.addresses()[0] as string)
    const ch = await rogue.open(a.transport.peerId, SYNC_PROTOCOL, { maxFrameBytes: 64 * 1024 * 1024, timeoutMs: 60_000 })
    await ch.write(json({ store: { root: '0'.repeat(64), size: 0 }, nodes: { root: a.nodes.digest(), size: 0 } }))
    const level = unjson(await ch.read()).store.level as number
    const tooMany = Array.from({ length: SYNC_LIMITS.maxSummaryEntries + 1 }, (_, i) => [`ds/default/x-${i}`, '000000000000001.000000', 'AAAAAAAAAAA'])
    await ch.write(json({ store: { buckets: [...Array(1 << level).keys()], entries: tooMany }, nodes: { buckets: [], entries: [] } }))
    await assert.rejects(ch.read(), /reset/, 'the responder drops the channel')
    const b = await peer(hub, clock, 'b')
    await b.transport.dial(a.transport.addresses()[0] as string)
    await b.sync.round(a.transport.peerId)
    assert.deepEqual(b.store.map.get(env.key), env)
    a.sync.stop()
    await a.store.close()
    await b.store.close()
  })
})
