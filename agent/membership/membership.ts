// Membership: this node's record, sent every heartbeat and on change; every other node's
// record, accepted only when signed by that node's own key; failure detection
// (Unreachable after the suspicion window, forgotten after the horizon, Left at once on a
// clean leave); and mesh upkeep (dialling peers learned from records).

import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import { LwwMap, type Authorizer } from '../../core/crdt.js'
import { signEnvelope, type Envelope } from '../../core/envelope.js'
import { checkNodeRecord, type NodeRecord, type PodStatus } from '../../core/node-record.js'
import type { NodeCondition, Taint } from '../../core/types.js'
import type { AgentClock } from '../clock.js'
import type { Metrics } from '../metrics.js'
import { Topics } from '../network/constants.js'
import type { GossipMessage, Network, Verdict } from '../network/network.js'

export type NodeState = 'Alive' | 'Unreachable' | 'Left'

/** NodeView is one node as this agent sees it. */
export interface NodeView {
  record: NodeRecord
  keyId: string
  state: NodeState
  /** Local time (ms) the latest record version arrived. */
  lastSeen: number
}

export interface MembershipOptions {
  network: Network
  clock: AgentClock
  /** The node's signing key (its libp2p key) and its id. */
  signingKey: KeyObject
  keyId: string
  self: { name: string; labels: Record<string, string>; taints: Taint[]; version: string }
  heartbeatMs: number
  suspicionMs: number
  forgetMs: number
  targetPeers: number
  bootstrap: string[]
  metrics: Metrics
  log: Logger
}

export type MembershipEvent = 'node:join' | 'node:update' | 'node:unreachable' | 'node:left' | 'node:forget' | 'node:self'

const RECORD_PREFIX = 'node/'

/** recordAuthorizer: the key is `node/KEYID` and only KEYID may write it, with a valid record. */
export const recordAuthorizer: Authorizer = (env) => {
  if (env.key !== `${RECORD_PREFIX}${env.author}`) return `node record ${env.key} not signed by that node's key`
  if (env.op !== 'put') return 'node records are never deleted'
  const issues = checkNodeRecord(env.value)
  return issues.length === 0 ? undefined : `invalid node record: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
}

/** Membership tracks the fleet. start/stop are explicit; events are delivered in order. */
export class Membership extends EventTarget {
  readonly records = new LwwMap(recordAuthorizer)
  private readonly opts: MembershipOptions
  private readonly log: Logger
  private readonly lastSeen = new Map<string, number>()
  private readonly states = new Map<string, NodeState>()
  /** Versions of forgotten records, so anti-entropy cannot bring them back. */
  private readonly forgotten = new Map<string, string>()
  /** First key seen for each name: a host cannot speak in another host's name. */
  private readonly nameOwner = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private selfRecord: NodeRecord
  private stopped = false
  private lastBootstrap = 0

  constructor(opts: MembershipOptions) {
    super()
    this.opts = opts
    this.log = opts.log
    this.selfRecord = {
      name: opts.self.name,
      peerId: opts.network.peerId,
      addresses: [],
      labels: { ...opts.self.labels },
      taints: opts.self.taints.map((t) => ({ ...t })),
      conditions: [{ type: 'Ready', status: 'True' }],
      version: opts.self.version,
      state: 'alive',
      startedAt: Date.now(),
      pods: {},
    }
  }

  /** start sends the first record, dials the bootstrap peers and starts the heartbeat. */
  start(): void {
    this.nameOwner.set(this.selfRecord.name, this.opts.keyId)
    void this.beat()
    void this.dialBootstrap()
    this.timer = setInterval(() => void this.tick(), this.opts.heartbeatMs)
  }

  /** leave announces a clean shutdown (Left at once on every peer) and stops the heartbeat. */
  async leave(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.selfRecord = { ...this.selfRecord, state: 'left' }
    await this.beat()
    // Give gossipsub a moment to flush the last message to the mesh.
    await new Promise((r) => setTimeout(r, 300))
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
    // Own labels or taints changed: what this node must run may have changed.
    if (placement) this.emit('node:self', this.selfRecord)
  }

  setPods(pods: Record<string, PodStatus>): void {
    this.update({ pods })
  }

  setConditions(conditions: NodeCondition[]): void {
    this.update({ conditions: conditions.map((c) => ({ type: c.type, status: c.status, ...(c.reason === undefined ? {} : { reason: c.reason }), ...(c.message === undefined ? {} : { message: c.message }) })) })
  }

  /** validate is the gossip validator for the nodes topic. */
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
    if (owner !== undefined && owner !== env.author && this.states.get(owner) !== 'Left' && this.records.get(`${RECORD_PREFIX}${owner}`) !== undefined) {
      // Undo: another key already owns this name.
      this.records.restore(env.key, before)
      this.opts.metrics.rejected.inc({ map: 'nodes', source })
      this.log.warn({ name: record.name, source }, 'node record claims a name another node key owns: dropped')
      return 'reject'
    }
    this.nameOwner.set(record.name, env.author)
    this.forgotten.delete(env.key)
    this.opts.clock.observe(env.hlc)
    this.opts.metrics.applied.inc({ map: 'nodes', source })
    if (env.author === this.opts.keyId) return 'accept'
    this.lastSeen.set(env.author, Date.now())
    const prev = this.states.get(env.author)
    const next: NodeState = record.state === 'left' ? 'Left' : 'Alive'
    this.states.set(env.author, next)
    if (prev === undefined) this.emit('node:join', record)
    else if (next === 'Left' && prev !== 'Left') this.emit('node:left', record)
    else this.emit('node:update', record)
    if (prev === undefined && next === 'Alive') this.log.info({ peer: record.name }, 'node joined')
    if (next === 'Left' && prev !== 'Left') this.log.info({ peer: record.name }, 'node left')
    return 'accept'
  }

  /** nodes lists every known node (this one included) with its state. */
  nodes(): NodeView[] {
    const out: NodeView[] = []
    for (const env of this.records.live(RECORD_PREFIX)) {
      const keyId = env.author
      const self = keyId === this.opts.keyId
      out.push({ record: self ? this.selfRecord : (env.value as NodeRecord), keyId, state: self ? 'Alive' : (this.states.get(keyId) ?? 'Alive'), lastSeen: self ? Date.now() : (this.lastSeen.get(keyId) ?? 0) })
    }
    return out.sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0))
  }

  private emit(type: MembershipEvent, record: NodeRecord): void {
    this.dispatchEvent(new CustomEvent(type, { detail: record }))
  }

  private async beat(): Promise<void> {
    this.selfRecord = { ...this.selfRecord, addresses: this.opts.network.addresses().slice(0, 32) }
    const env = signEnvelope(`${RECORD_PREFIX}${this.opts.keyId}`, this.selfRecord, this.opts.clock.now(), this.opts.signingKey)
    this.records.merge(env)
    await this.opts.network.publish(Topics.nodes, new TextEncoder().encode(JSON.stringify(env)))
  }

  private async tick(): Promise<void> {
    if (this.stopped) return
    await this.beat()
    this.detectFailures()
    await this.keepMesh()
  }

  private detectFailures(): void {
    const now = Date.now()
    for (const [keyId, seen] of this.lastSeen) {
      const state = this.states.get(keyId)
      const env = this.records.get(`${RECORD_PREFIX}${keyId}`)
      const record = env?.value as NodeRecord | undefined
      if (env === undefined || record === undefined) continue
      if (now - seen > this.opts.forgetMs) {
        this.forgotten.set(env.key, env.hlc)
        this.records.restore(env.key, undefined)
        this.lastSeen.delete(keyId)
        this.states.delete(keyId)
        if (this.nameOwner.get(record.name) === keyId) this.nameOwner.delete(record.name)
        this.emit('node:forget', record)
        this.log.info({ peer: record.name }, 'node forgotten')
      } else if (state === 'Alive' && now - seen > this.opts.suspicionMs) {
        this.states.set(keyId, 'Unreachable')
        this.emit('node:unreachable', record)
        this.log.warn({ peer: record.name, silentMs: now - seen }, 'node unreachable')
      }
    }
    const counts = { Alive: 1, Unreachable: 0, Left: 0 }
    for (const s of this.states.values()) counts[s]++
    for (const [state, n] of Object.entries(counts)) this.opts.metrics.nodes.set({ state }, n)
  }

  /** keepMesh dials peers learned from records until targetPeers are connected; bootstrap when alone. */
  private async keepMesh(): Promise<void> {
    const connected = new Set(this.opts.network.connectedPeers())
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
    const wanted = Math.min(candidates.length, this.opts.targetPeers - connected.size, 4)
    await Promise.all(candidates.slice(0, wanted).map((n) => this.dialAny(n.record)))
  }

  private async dialAny(record: NodeRecord): Promise<void> {
    for (const addr of record.addresses) {
      if (!addr.includes(`/p2p/${record.peerId}`)) continue
      try {
        await this.opts.network.dial(addr)
        return
      } catch (err) {
        this.log.debug({ err, addr }, 'dial failed')
      }
    }
  }

  private async dialBootstrap(): Promise<void> {
    // Retry the bootstrap peers at most every few heartbeats, so a lone agent does not spin.
    const now = Date.now()
    if (now - this.lastBootstrap < 3 * this.opts.heartbeatMs || this.opts.bootstrap.length === 0) return
    this.lastBootstrap = now
    await Promise.all(
      this.opts.bootstrap.map(async (addr) => {
        try {
          const peer = await this.opts.network.dial(addr)
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
