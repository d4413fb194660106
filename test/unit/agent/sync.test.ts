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
import { SYNC_PROTOCOL } from '../../../agent/network/constants.js'
import { Store } from '../../../agent/store/store.js'
import { AntiEntropy } from '../../../agent/store/sync.js'
import { LwwMap } from '../../../core/crdt.js'
import { signEnvelope, type Envelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { dsRef, StoreKey } from '../../../core/keyspace.js'
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
  const sync = new AntiEntropy({
    transport,
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
  return { transport, store, nodes, sync, metrics }
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
