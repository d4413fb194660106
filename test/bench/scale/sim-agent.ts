// One simulated host: the agent's real parts — membership (records, SWIM detector, mesh
// upkeep), the store (core's signed LWW map; an in-memory database instead of level), anti-
// entropy, the lease (voter and claimant, votes in memory) and the reconciler (over
// SimRuntime) — wired as agent/agent.ts wires them, on a MemoryTransport of the simulator's
// hub and the simulator's clock. What agent.ts does that is not here: the API, the key files,
// libp2p. Keep the wiring in step with agent.ts.

import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import { checkStoreValue } from '../../../core/admission.js'
import type { Envelope } from '../../../core/envelope.js'
import { StoreKey } from '../../../core/keyspace.js'
import { applyOverlay, type NodeOverlay } from '../../../core/overlay.js'
import { AgentClock, type Clock } from '../../../agent/clock.js'
import type { AgentConfig } from '../../../agent/config.js'
import type { Timings } from '../../../agent/defaults.js'
import { FleetView } from '../../../agent/lease/fleet-view.js'
import { Lease } from '../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../agent/lease/votes.js'
import { Membership } from '../../../agent/membership/membership.js'
import type { Metrics } from '../../../agent/metrics.js'
import { LEASE_LINK_PROTOCOL, LEASE_PROTOCOL, Topics } from '../../../agent/network/constants.js'
import { Reconciler } from '../../../agent/reconciler/reconciler.js'
import { Store, type EnvelopeDb } from '../../../agent/store/store.js'
import { AntiEntropy } from '../../../agent/store/sync.js'
import type { ChannelHandler, FrameChannel, Transport } from '../../../agent/transport.js'
import type { MemoryTransport } from '../../helpers/memory-transport.js'
import { SimRuntime } from './sim-runtime.js'

/** MemoryDb is an in-memory EnvelopeDb: a host's store without level (ten thousand level databases do not fit one process). */
export class MemoryDb implements EnvelopeDb {
  private readonly rows = new Map<string, Envelope>()
  async open(): Promise<void> {}
  async *iterator(): AsyncIterable<[string, Envelope]> {
    yield* this.rows.entries()
  }
  async put(key: string, env: Envelope): Promise<void> {
    this.rows.set(key, env)
  }
  async close(): Promise<void> {}
}

/** LeaseCount counts the frames the lease protocol carries (both directions, every host). */
export interface LeaseCount {
  frames: number
  bytes: number
}

/** The lease's protocols: its links, and the one-request streams of older agents. */
const LEASE_PROTOCOLS = new Set([LEASE_LINK_PROTOCOL, LEASE_PROTOCOL])

/** counted wraps the lease's transport so every frame written on a lease channel (link or stream) is counted. */
function counted(t: Transport, count: LeaseCount): Pick<Transport, 'serve' | 'open'> {
  const wrap = (ch: FrameChannel): FrameChannel => ({
    write: (frame) => {
      count.frames++
      count.bytes += frame.length
      return ch.write(frame)
    },
    read: () => ch.read(),
    close: () => ch.close(),
  })
  return {
    serve: (protocol, handler: ChannelHandler, limits) => t.serve(protocol, (ch, peer, keyId) => handler(LEASE_PROTOCOLS.has(protocol) ? wrap(ch) : ch, peer, keyId), limits),
    open: async (peer, protocol, limits, addresses) => {
      const ch = await t.open(peer, protocol, limits, addresses)
      return LEASE_PROTOCOLS.has(protocol) ? wrap(ch) : ch
    },
  }
}

export interface SimAgentOptions {
  name: string
  labels: Record<string, string>
  keyId: string
  signingKey: KeyObject
  transport: MemoryTransport
  clock: Clock
  config: Pick<AgentConfig, 'heartbeatMs' | 'suspicionMs' | 'forgetMs' | 'antiEntropyMs' | 'leaseTtlMs' | 'targetPeers' | 'maxConnections' | 'faultyVoters' | 'leaseCommittee'>
  bootstrap: string[]
  trusted: string[]
  timings: Timings
  metrics: Metrics
  log: Logger
  random: () => number
  podStartMs: number
  leaseCount: LeaseCount
}

/** SimAgent is one simulated host. */
export class SimAgent {
  readonly name: string
  readonly keyId: string
  /** What its lease reads of the fleet (the committees, the voter set). */
  readonly fleet: FleetView
  readonly transport: MemoryTransport
  readonly store: Store
  readonly membership: Membership
  readonly lease: Lease
  readonly sync: AntiEntropy
  readonly reconciler: Reconciler
  readonly runtime: SimRuntime
  private own: { labels: Record<string, string> }
  private alive = false

  private constructor(opts: SimAgentOptions, store: Store) {
    const { clock, transport, timings, metrics, log } = opts
    this.name = opts.name
    this.keyId = opts.keyId
    this.transport = transport
    this.store = store
    this.own = { labels: opts.labels }
    const hlc = new AgentClock(clock)
    transport.subscribe(Topics.store, (msg) => store.validate(msg))
    this.membership = new Membership({
      transport,
      clock,
      hlc,
      signingKey: opts.signingKey,
      keyId: opts.keyId,
      self: { name: opts.name, labels: opts.labels, taints: [], version: 'sim' },
      heartbeatMs: opts.config.heartbeatMs,
      suspicionMs: opts.config.suspicionMs,
      forgetMs: opts.config.forgetMs,
      targetPeers: opts.config.targetPeers,
      maxConnections: opts.config.maxConnections,
      bootstrap: opts.bootstrap,
      timings,
      random: opts.random,
      metrics,
      log,
    })
    const membership = this.membership
    this.fleet = new FleetView(membership, store, { faulty: opts.config.faultyVoters, committee: opts.config.leaseCommittee })
    this.lease = new Lease({
      transport: counted(transport, opts.leaseCount),
      clock,
      fleet: this.fleet,
      votes: new MemoryVoteStore(),
      keyId: opts.keyId,
      selfName: () => membership.self().name,
      ttlMs: opts.config.leaseTtlMs,
      timings: timings.lease,
      metrics,
      log,
      random: (n) => Math.floor(opts.random() * n),
    })
    this.sync = new AntiEntropy({
      transport,
      clock,
      maps: [
        { name: 'store', map: store.map, merge: (envs) => store.mergeSynced(envs) },
        { name: 'nodes', map: membership.records, merge: async (envs) => envs.filter((e) => membership.merge(e, 'sync') === 'accept').length },
      ],
      periodMs: opts.config.antiEntropyMs,
      timings,
      metrics,
      log,
    })
    this.runtime = new SimRuntime(clock, opts.podStartMs)
    this.reconciler = new Reconciler({ runtime: this.runtime, clock, store: store.map, node: membership, slots: this.lease.slots, timings: timings.reconciler, log })
  }

  /** create opens the host's store (in memory) and builds its parts; start joins. */
  static async create(opts: SimAgentOptions): Promise<SimAgent> {
    const hlc = new AgentClock(opts.clock)
    const store = await Store.open({ path: `sim:${opts.name}`, db: new MemoryDb(), trusted: opts.trusted, checkValue: checkStoreValue, clock: hlc, metrics: opts.metrics, log: opts.log })
    return new SimAgent(opts, store)
  }

  /** start brings the host up in agent.ts's order: lease, own record, membership, anti-entropy, reconciler. */
  async start(): Promise<void> {
    await this.lease.start()
    this.applyOwn()
    this.store.on('store:change', (env) => {
      if (env.key === StoreKey.overlay(this.name)) this.applyOwn()
      this.reconciler.trigger()
    })
    this.membership.on('node:self', () => this.reconciler.trigger())
    this.membership.on('node:record', (r) => this.lease.recordArrived(r))
    this.lease.slots.onGranted(() => this.reconciler.trigger())
    this.membership.start()
    await this.sync.start()
    this.reconciler.start()
    this.alive = true
  }

  /** applyOwn publishes this node's labels with the operator's overlay applied (agent.ts applyOwn). */
  private applyOwn(): void {
    const overlay = this.store.map.value(StoreKey.overlay(this.name)) as NodeOverlay | undefined
    this.membership.update(applyOverlay({ labels: this.own.labels, taints: [] }, overlay))
  }

  /** kill stops the host as a SIGKILL would: its connections drop and it says nothing more. */
  kill(): void {
    this.alive = false
    this.reconciler.stop()
    this.lease.stop()
    this.sync.stop()
    this.membership.stop()
    this.transport.close()
  }

  get running(): boolean {
    return this.alive
  }

  /** apply takes an operator-signed envelope as the API does (merge, then gossip when it won). */
  async apply(env: Envelope): Promise<'applied' | 'stale' | 'rejected'> {
    const r = await this.store.apply(env, 'api')
    if (r.status === 'applied') await this.transport.publish(Topics.store, new TextEncoder().encode(JSON.stringify(env)))
    return r.status
  }
}
