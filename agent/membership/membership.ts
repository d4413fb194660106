// Membership: this node's record, sent every heartbeat and on change; every other node's
// record, accepted only when signed by that node's own key (and only from the key that
// first claimed its name); failure detection on the monotonic clock (Unreachable after
// the suspicion window of silence, forgotten after the horizon, Left at once on a clean
// leave); and mesh upkeep (dialling peers learned from records, and the bootstrap peers
// while alone). It owns no timers or sockets: time comes from the Clock, messages from
// the Transport.

import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import { LwwMap, type Authorizer } from '../../core/crdt.js'
import { signEnvelope, type Envelope } from '../../core/envelope.js'
import { Prefix, StoreKey } from '../../core/keyspace.js'
import { checkNodeRecord, type NodeRecord, type PodStatus } from '../../core/node-record.js'
import type { NodeCondition, Taint } from '../../core/types.js'
import type { AgentClock, Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import { TypedEvents } from '../events.js'
import type { Metrics } from '../metrics.js'
import { Topics } from '../network/constants.js'
import type { GossipMessage, Transport, Verdict } from '../transport.js'

export type NodeState = 'Alive' | 'Unreachable' | 'Left'

/** NodeView is one node as this agent sees it. */
export interface NodeView {
  record: NodeRecord
  keyId: string
  state: NodeState
  /** Wall time (ms since the epoch, this host's clock) the latest record version arrived. */
  lastSeen: number
}

export interface MembershipOptions {
  transport: Transport
  /** Wall time for timestamps people read; monotonic time for silence; the heartbeat timer. */
  clock: Clock
  /** The hybrid logical clock that stamps our records and observes others'. */
  hlc: AgentClock
  /** The node's signing key (its libp2p key) and its id. */
  signingKey: KeyObject
  keyId: string
  self: { name: string; labels: Record<string, string>; taints: Taint[]; version: string }
  heartbeatMs: number
  suspicionMs: number
  forgetMs: number
  targetPeers: number
  bootstrap: string[]
  timings: Pick<Timings, 'membership'>
  metrics: Metrics
  log: Logger
}

/** The events Membership emits. */
export type MembershipEvents = {
  /** This node's own labels or taints changed: what it must run may have changed. */
  'node:self': NodeRecord
}

/** recordAuthorizer: the key is `node/KEYID` and only KEYID may write it, with a valid record. */
export const recordAuthorizer: Authorizer = (env) => {
  if (env.key !== StoreKey.nodeRecord(env.author)) return `node record ${env.key} not signed by that node's key`
  if (env.op !== 'put') return 'node records are never deleted'
  const issues = checkNodeRecord(env.value)
  return issues.length === 0 ? undefined : `invalid node record: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
}

/**
 * Membership tracks the fleet. start/stop are explicit; 'node:self' listeners are called
 * in order, inside update, and must not block.
 */
export class Membership extends TypedEvents<MembershipEvents> {
  readonly records = new LwwMap(recordAuthorizer)
  private readonly opts: MembershipOptions
  private readonly log: Logger
  /** Monotonic time the latest record version of each other node arrived: silence is measured from it. */
  private readonly heardAt = new Map<string, number>()
  /** Wall time of the same arrival, for people (NodeView.lastSeen). */
  private readonly seenAt = new Map<string, number>()
  private readonly states = new Map<string, NodeState>()
  /** Versions of forgotten records, so anti-entropy cannot bring them back. */
  private readonly forgotten = new Map<string, string>()
  /** First key seen for each name: a host cannot speak in another host's name. */
  private readonly nameOwner = new Map<string, string>()
  private heartbeat: Timer | undefined
  private selfRecord: NodeRecord
  private stopped = false
  /** Monotonic time of the last bootstrap attempt; undefined before the first. */
  private lastBootstrap: number | undefined

  constructor(opts: MembershipOptions) {
    super()
    this.opts = opts
    this.log = opts.log
    this.selfRecord = {
      name: opts.self.name,
      peerId: opts.transport.peerId,
      addresses: [],
      labels: { ...opts.self.labels },
      taints: opts.self.taints.map((t) => ({ ...t })),
      conditions: [{ type: 'Ready', status: 'True' }],
      version: opts.self.version,
      state: 'alive',
      startedAt: opts.clock.wall(),
      pods: {},
    }
  }

  /** start subscribes to the nodes topic, sends the first record, dials the bootstrap peers and starts the heartbeat. */
  start(): void {
    this.nameOwner.set(this.selfRecord.name, this.opts.keyId)
    this.opts.transport.subscribe(Topics.nodes, (msg) => this.validate(msg))
    void this.beat()
    void this.dialBootstrap()
    this.heartbeat = this.opts.clock.every(this.opts.heartbeatMs, () => void this.tick())
  }

  /** leave announces a clean shutdown (Left at once on every peer), stops the heartbeat and waits leaveFlushMs for gossip to carry it. */
  async leave(): Promise<void> {
    this.stop()
    this.selfRecord = { ...this.selfRecord, state: 'left' }
    await this.beat()
    await this.opts.clock.sleep(this.opts.timings.membership.leaveFlushMs)
  }

  /** stop ends the heartbeat without a word to peers (they will take the silence for a failure); records still merge. */
  stop(): void {
    this.stopped = true
    this.heartbeat?.cancel()
  }

  /** self returns this node's current record. */
  self(): NodeRecord {
    return this.selfRecord
  }

  /** update changes this node's record (labels, taints, conditions, pods) and sends it now. */
  update(change: Partial<Pick<NodeRecord, 'labels' | 'taints' | 'conditions' | 'pods'>>): void {
    const placement = (change.labels !== undefined && JSON.stringify(change.labels) !== JSON.stringify(this.selfRecord.labels)) || (change.taints !== undefined && JSON.stringify(change.taints) !== JSON.stringify(this.selfRecord.taints))
    this.selfRecord = { ...this.selfRecord, ...change }
    void this.beat()
    if (placement) this.emit('node:self', this.selfRecord)
  }

  setPods(pods: Record<string, PodStatus>): void {
    this.update({ pods })
  }

  setConditions(conditions: NodeCondition[]): void {
    this.update({ conditions: conditions.map((c) => ({ type: c.type, status: c.status, ...(c.reason === undefined ? {} : { reason: c.reason }), ...(c.message === undefined ? {} : { message: c.message }) })) })
  }

  /** validate is the handler of the nodes topic: it decides and merges at once, without blocking. */
  validate(msg: GossipMessage): Verdict {
    let input: unknown
    try {
      input = JSON.parse(new TextDecoder().decode(msg.data))
    } catch {
      this.opts.metrics.rejected.inc({ map: 'nodes', source: 'gossip' })
      return 'reject'
    }
    // The gossip publisher must be the record's author: no relaying records in another's name.
    const author = (input as { author?: unknown } | null)?.author
    if (author !== msg.fromKeyId) {
      this.opts.metrics.rejected.inc({ map: 'nodes', source: 'gossip' })
      this.log.warn({ from: msg.from }, 'node record published by a peer that is not its author: dropped')
      return 'reject'
    }
    return this.merge(input, 'gossip')
  }

  /** merge takes a record envelope from gossip or anti-entropy. */
  merge(input: unknown, source: 'gossip' | 'sync'): Verdict {
    const env = input as Envelope
    const forgottenAt = typeof env?.key === 'string' ? this.forgotten.get(env.key) : undefined
    if (forgottenAt !== undefined && typeof env.hlc === 'string' && env.hlc <= forgottenAt) return 'ignore'
    const before = this.records.get(typeof env?.key === 'string' ? env.key : '')
    const r = this.records.merge(input)
    if (r.status === 'rejected') {
      this.opts.metrics.rejected.inc({ map: 'nodes', source })
      this.log.warn({ reason: r.reason, source }, 'node record rejected')
      return 'reject'
    }
    if (r.status === 'stale') return 'ignore'
    const record = env.value as NodeRecord
    const owner = this.nameOwner.get(record.name)
    if (owner !== undefined && owner !== env.author && this.states.get(owner) !== 'Left' && this.records.get(StoreKey.nodeRecord(owner)) !== undefined) {
      // Undo: another key already owns this name.
      this.records.restore(env.key, before)
      this.opts.metrics.rejected.inc({ map: 'nodes', source })
      this.log.warn({ name: record.name, source }, 'node record claims a name another node key owns: dropped')
      return 'reject'
    }
    this.nameOwner.set(record.name, env.author)
    this.forgotten.delete(env.key)
    this.opts.hlc.observe(env.hlc)
    this.opts.metrics.applied.inc({ map: 'nodes', source })
    if (env.author === this.opts.keyId) return 'accept'
    this.heardAt.set(env.author, this.opts.clock.mono())
    this.seenAt.set(env.author, this.opts.clock.wall())
    const prev = this.states.get(env.author)
    const next: NodeState = record.state === 'left' ? 'Left' : 'Alive'
    this.states.set(env.author, next)
    if (prev === undefined && next === 'Alive') this.log.info({ peer: record.name }, 'node joined')
    if (next === 'Left' && prev !== 'Left') this.log.info({ peer: record.name }, 'node left')
    return 'accept'
  }

  /** nodes lists every known node (this one included) with its state. */
  nodes(): NodeView[] {
    const out: NodeView[] = []
    for (const env of this.records.live(Prefix.nodeRecord)) {
      const keyId = env.author
      const self = keyId === this.opts.keyId
      out.push({ record: self ? this.selfRecord : (env.value as NodeRecord), keyId, state: self ? 'Alive' : (this.states.get(keyId) ?? 'Alive'), lastSeen: self ? this.opts.clock.wall() : (this.seenAt.get(keyId) ?? 0) })
    }
    return out.sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0))
  }

  /** beat signs the current record, merges it into our own map and publishes it. */
  private async beat(): Promise<void> {
    this.selfRecord = { ...this.selfRecord, addresses: this.opts.transport.addresses().slice(0, this.opts.timings.membership.maxAddresses) }
    const env = signEnvelope(StoreKey.nodeRecord(this.opts.keyId), this.selfRecord, this.opts.hlc.now(), this.opts.signingKey)
    this.records.merge(env)
    try {
      await this.opts.transport.publish(Topics.nodes, new TextEncoder().encode(JSON.stringify(env)))
    } catch (err) {
      // Only an oversized record fails to publish; peers still get it by anti-entropy.
      this.log.error({ err }, 'publishing the node record failed')
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    await this.beat()
    this.detectFailures()
    await this.keepMesh()
  }

  private detectFailures(): void {
    const now = this.opts.clock.mono()
    for (const [keyId, heard] of this.heardAt) {
      const state = this.states.get(keyId)
      const env = this.records.get(StoreKey.nodeRecord(keyId))
      const record = env?.value as NodeRecord | undefined
      if (env === undefined || record === undefined) continue
      if (now - heard > this.opts.forgetMs) {
        this.forgotten.set(env.key, env.hlc)
        this.records.restore(env.key, undefined)
        this.heardAt.delete(keyId)
        this.seenAt.delete(keyId)
        this.states.delete(keyId)
        if (this.nameOwner.get(record.name) === keyId) this.nameOwner.delete(record.name)
        this.log.info({ peer: record.name }, 'node forgotten')
      } else if (state === 'Alive' && now - heard > this.opts.suspicionMs) {
        this.states.set(keyId, 'Unreachable')
        this.log.warn({ peer: record.name, silentMs: now - heard }, 'node unreachable')
      }
    }
    const counts = { Alive: 1, Unreachable: 0, Left: 0 }
    for (const s of this.states.values()) counts[s]++
    for (const [state, n] of Object.entries(counts)) this.opts.metrics.nodes.set({ state }, n)
  }

  /** keepMesh dials peers learned from records until targetPeers are connected; bootstrap when alone. */
  private async keepMesh(): Promise<void> {
    const connected = new Set(this.opts.transport.connectedPeers())
    this.opts.metrics.peers.set(connected.size)
    if (connected.size === 0) await this.dialBootstrap()
    if (connected.size >= this.opts.targetPeers) return
    // Alive peers first; Unreachable ones too, in case they are back (a healed partition).
    const others = this.nodes().filter((n) => n.state !== 'Left' && n.keyId !== this.opts.keyId && !connected.has(n.record.peerId))
    const alive = others.filter((n) => n.state === 'Alive')
    const unreachable = others.filter((n) => n.state === 'Unreachable')
    shuffle(alive)
    shuffle(unreachable)
    const candidates = [...alive, ...unreachable]
    const wanted = Math.min(candidates.length, this.opts.targetPeers - connected.size, this.opts.timings.membership.dialsPerBeat)
    await Promise.all(candidates.slice(0, wanted).map((n) => this.dialAny(n.record)))
  }

  private async dialAny(record: NodeRecord): Promise<void> {
    for (const addr of record.addresses) {
      if (!addr.includes(`/p2p/${record.peerId}`)) continue
      try {
        await this.opts.transport.dial(addr)
        return
      } catch (err) {
        this.log.debug({ err, addr }, 'dial failed')
      }
    }
  }

  /** dialBootstrap dials every bootstrap peer, at most every bootstrapRetryBeats heartbeats so a lone agent does not spin. */
  private async dialBootstrap(): Promise<void> {
    const now = this.opts.clock.mono()
    const retryMs = this.opts.timings.membership.bootstrapRetryBeats * this.opts.heartbeatMs
    if ((this.lastBootstrap !== undefined && now - this.lastBootstrap < retryMs) || this.opts.bootstrap.length === 0) return
    this.lastBootstrap = now
    await Promise.all(
      this.opts.bootstrap.map(async (addr) => {
        try {
          const peer = await this.opts.transport.dial(addr)
          this.log.info({ addr, peer }, 'connected to bootstrap peer')
        } catch (err) {
          this.log.warn({ addr, err: (err as Error).message }, 'bootstrap peer unreachable')
        }
      }),
    )
  }
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
}
