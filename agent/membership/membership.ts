// Membership: this node's record, published when it changes (never periodically: peers get a
// slow refresh through anti-entropy); every other node's record, accepted only when signed by
// that node's own key (records.ts); failure detection by SWIM probes with Lifeguard's
// suspicion (detector.ts, protocol in docs/membership.md); and mesh upkeep (mesh.ts). This
// file wires them and owns the protocol period. It owns no timers or sockets: time comes
// from the Clock, messages from the Transport.

import type { PodEvent } from '../../core/events.js'
import type { KeyObject } from 'node:crypto'
import type { Logger } from 'pino'
import { checkEnvelopeBounds } from '../../core/bounds.js'
import type { LwwMap } from '../../core/crdt.js'
import { signEnvelope } from '../../core/envelope.js'
import { Prefix, StoreKey } from '../../core/keyspace.js'
import type { Join } from '../../core/node-admission.js'
import { checkRecordTimes, nodeRecordSchema, withoutNotes, type NodeRecord, type PodStatus, type WorkerStatus } from '../../core/node-record.js'
import type { Random } from '../../core/swim.js'
import type { NodeCondition, Taint } from '../../core/types.js'
import type { AgentClock, Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import { TypedEvents } from '../events.js'
import { Throttle } from '../log.js'
import type { Metrics } from '../metrics.js'
import { Topics } from '../network/constants.js'
import type { GossipMessage, Transport, Verdict } from '../transport.js'
import { FailureDetector, type NodeState, type StateFingerprint } from './detector.js'
import { MeshKeeper } from './mesh.js'
import { RecordPacer } from './pacer.js'
import { isNotice, noticeSchema } from './messages.js'
import { NodeRecords, type RecordGate, type RecordMerge } from './records.js'

export type { NodeState } from './detector.js'
export { recordAuthorizer } from './records.js'

/** The largest incarnation a record may carry (core/node-record.ts). */
const MAX_INCARNATION = 2 ** 31

/** NodeView is one node as this agent sees it. */
export interface NodeView {
  record: NodeRecord
  keyId: string
  state: NodeState
  /** Wall time (ms since the epoch, this host's clock) this agent last heard from the node: a new record version, or a probe answered either way. */
  lastSeen: number
}

export interface MembershipOptions {
  transport: Transport
  /** Wall time for timestamps people read; monotonic time for failure detection; the protocol period's timer. */
  clock: Clock
  /** The hybrid logical clock that stamps our records and observes others'. */
  hlc: AgentClock
  /** The node's signing key (its libp2p key) and its id. */
  signingKey: KeyObject
  keyId: string
  /** This node: its name, labels, taints, version, and the host facts its pods see (host IP, capacity). */
  self: { name: string; labels: Record<string, string>; taints: Taint[]; version: string; hostIP?: string; capacity?: { cpu: number; memory: number } }
  /** The protocol period (`--heartbeat`): one probe per period. */
  heartbeatMs: number
  /** The suspicion timeout's floor (`--suspicion`); it grows with log10 of the fleet's size (docs/membership.md). */
  suspicionMs: number
  /** A node down (Unreachable or Left) and not heard from for this long is forgotten. */
  forgetMs: number
  targetPeers: number
  /** libp2p's connection cap: above three quarters of it the mesh keeper hangs up on a few connections (mesh.ts). Absent: no ceiling. */
  maxConnections?: number
  bootstrap: string[]
  timings: Pick<Timings, 'membership' | 'network'>
  /** Anti-entropy's fingerprint, compared through the probes' acks (agent.ts wires the AntiEntropy). */
  state?: StateFingerprint
  /** Node admission, consulted on every record (agent/admission.ts); none: records are judged by signature and name only. */
  gate?: RecordGate
  /** A join token this host joins with (carried in its record). */
  join?: Join
  /** Random choices (probe order, helpers, dial candidates); Math.random by default, a seeded source in a simulator. */
  random?: Random
  metrics: Metrics
  log: Logger
}

/** The events Membership emits. */
export type MembershipEvents = {
  /** This node's own labels or taints changed: what it must run may have changed. */
  'node:self': NodeRecord
  /** A peer's newer record was merged (gossip or anti-entropy). */
  'node:record': NodeRecord
}

const decoder = new TextDecoder()

/**
 * Membership tracks the fleet. start/stop are explicit; 'node:self' listeners are called
 * in order, inside update, and 'node:record' listeners inside merge: they must not block.
 */
export class Membership extends TypedEvents<MembershipEvents> {
  private readonly book: NodeRecords
  private readonly opts: MembershipOptions
  private readonly log: Logger
  private readonly detector: FailureDetector
  private readonly mesh: MeshKeeper
  private period: Timer | undefined
  private selfRecord: NodeRecord
  private stopped = false
  /** When our changed record goes out (pacer.ts). */
  private readonly pacer: RecordPacer
  private announced = false
  /** At most 20 'node record rejected' lines a second (log.ts Throttle). */
  private readonly rejections = new Throttle(1000, 20)

  constructor(opts: MembershipOptions) {
    super()
    this.opts = opts
    this.log = opts.log
    const random = opts.random ?? Math.random
    const { recordSpacingMs, notesSpreadMs } = opts.timings.membership
    this.pacer = new RecordPacer({ clock: opts.clock, random, spacingMs: recordSpacingMs, notesSpreadMs, publish: () => void this.beat() })
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
      incarnation: 0,
      pods: {},
      ...(opts.self.hostIP === undefined ? {} : { hostIP: opts.self.hostIP }),
      ...(opts.self.capacity === undefined ? {} : { capacity: { ...opts.self.capacity } }),
      ...(opts.join === undefined ? {} : { join: opts.join }),
    }
    this.detector = new FailureDetector({
      transport: opts.transport,
      clock: opts.clock,
      random,
      keyId: opts.keyId,
      periodMs: opts.heartbeatMs,
      suspicionMs: opts.suspicionMs,
      forgetMs: opts.forgetMs,
      timings: opts.timings.membership,
      incarnation: () => this.selfRecord.incarnation,
      startedAt: () => this.selfRecord.startedAt,
      refute: (incarnation) => this.refute(incarnation),
      ...(opts.state === undefined ? {} : { state: opts.state }),
      forgotten: (keyId) => this.book.forget(keyId),
      metrics: opts.metrics,
      log: opts.log,
    })
    this.book = new NodeRecords({ keyId: opts.keyId, name: opts.self.name }, (keyId) => this.detector.state(keyId)?.state === 'Left', opts.gate)
    this.mesh = new MeshKeeper({
      transport: opts.transport,
      clock: opts.clock,
      periodMs: opts.heartbeatMs,
      targetPeers: opts.targetPeers,
      ...(opts.maxConnections === undefined ? {} : { maxConnections: opts.maxConnections }),
      bootstrap: opts.bootstrap,
      dialTimeoutMs: opts.timings.network.dialTimeoutMs,
      timings: opts.timings.membership,
      candidates: (n, connected) => this.detector.dialCandidates(n, connected),
      hangingUp: (peerId) => this.detector.expectClose(peerId),
      random,
      metrics: opts.metrics,
      log: opts.log,
    })
  }

  /** records is every node's signed record (anti-entropy syncs it; the lease reads it). */
  get records(): LwwMap {
    return this.book.map
  }

  /**
   * start subscribes to the nodes topic, publishes our record, serves probes, dials the
   * bootstrap peers and starts the protocol period. Our record is published once more a
   * period after the first connection, when gossip can carry it to the fleet.
   */
  start(): void {
    this.opts.transport.subscribe(Topics.nodes, (msg) => this.validate(msg))
    this.opts.transport.onConnect(() => {
      if (this.announced) return
      this.announced = true
      this.opts.clock.after(this.opts.heartbeatMs, () => void (this.stopped ? undefined : this.beat()))
    })
    this.selfRecord = { ...this.selfRecord, addresses: this.opts.transport.addresses().slice(0, this.opts.timings.membership.maxAddresses) }
    void this.beat()
    this.detector.start().catch((err: unknown) => this.log.error({ err }, 'serving the probe protocol failed'))
    void this.mesh.dialBootstrap()
    this.period = this.opts.clock.every(this.opts.heartbeatMs, () => void this.tick())
  }

  /** leave announces a clean shutdown (Left at once on every peer), stops probing and waits leaveFlushMs for gossip to carry it. */
  async leave(): Promise<void> {
    this.stop()
    this.selfRecord = { ...this.selfRecord, state: 'left' }
    await this.beat()
    await this.opts.clock.sleep(this.opts.timings.membership.leaveFlushMs)
  }

  /** stop ends probing and answering probes without a word to peers (they will find this node failed); records still merge. */
  stop(): void {
    this.stopped = true
    this.pacer.stop()
    this.period?.cancel()
    this.detector.stop()
  }

  /** self returns this node's current record. */
  self(): NodeRecord {
    return this.selfRecord
  }

  /** update changes this node's record (labels, taints, conditions, pods) and publishes it when that changed anything. */
  update(change: Partial<Pick<NodeRecord, 'labels' | 'taints' | 'conditions' | 'pods'>>): void {
    const differs = (k: keyof typeof change): boolean => change[k] !== undefined && JSON.stringify(change[k]) !== JSON.stringify(this.selfRecord[k])
    const placement = differs('labels') || differs('taints')
    const changed = placement || differs('conditions') || differs('pods')
    this.selfRecord = { ...this.selfRecord, ...change }
    if (changed) this.pacer.changed()
    if (placement) this.emit('node:self', this.selfRecord)
  }

  /** setPods reports this node's copies, its busy pod workers and its recent events (each field left out when empty), publishing the record when that changed it. */
  setPods(pods: Record<string, PodStatus>, workers: Record<string, WorkerStatus> = {}, events: PodEvent[] = []): void {
    const r = this.selfRecord
    if (JSON.stringify(r.pods) === JSON.stringify(pods) && JSON.stringify(r.workers ?? {}) === JSON.stringify(workers) && JSON.stringify(r.events ?? []) === JSON.stringify(events)) return
    const notesOnly = JSON.stringify(withoutNotes(r.pods)) === JSON.stringify(withoutNotes(pods))
    const { workers: _before, events: _events, ...rest } = r
    this.selfRecord = { ...rest, pods, ...(Object.keys(workers).length > 0 ? { workers } : {}), ...(events.length > 0 ? { events } : {}) }
    this.pacer.changed(notesOnly)
  }

  setConditions(conditions: NodeCondition[]): void {
    this.update({ conditions: conditions.map((c) => ({ type: c.type, status: c.status, ...(c.reason === undefined ? {} : { reason: c.reason }), ...(c.message === undefined ? {} : { message: c.message }) })) })
  }

  /** validate is the handler of the nodes topic (records and suspicion notices): it decides and merges at once, without blocking. */
  validate(msg: GossipMessage): Verdict {
    let input: unknown
    try {
      input = JSON.parse(decoder.decode(msg.data))
    } catch {
      this.opts.metrics.rejected.inc({ map: 'nodes', source: 'gossip' })
      return 'reject'
    }
    if (isNotice(input)) {
      const notice = noticeSchema.safeParse(input)
      if (!notice.success) {
        this.opts.metrics.rejected.inc({ map: 'nodes', source: 'gossip' })
        return 'reject'
      }
      // A key that is not admitted has no say: its suspicions do not count (admission: open admits all).
      if (this.opts.gate !== undefined && !this.opts.gate.admitted(msg.fromKeyId, this.book.record(msg.fromKeyId))) return 'ignore'
      return this.detector.notice(notice.data, msg.fromKeyId)
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
    const now = this.opts.clock.wall()
    const bound = checkEnvelopeBounds(input, now)
    const parsed = bound === undefined ? nodeRecordSchema.safeParse((input as { value?: unknown } | null)?.value) : undefined
    const ahead = parsed?.success === true ? checkRecordTimes(parsed.data, now) : undefined
    const refusal = bound ?? ahead
    const r: RecordMerge = refusal === undefined ? this.book.merge(input) : { status: 'rejected', reason: refusal }
    if (r.status === 'stale') return 'ignore'
    if (r.status === 'outlived') return this.outlived(r.env.hlc, r.record)
    if (r.status === 'rejected') {
      this.opts.metrics.rejected.inc({ map: 'nodes', source })
      const held = this.rejections.pass(this.opts.clock.mono())
      if (held !== undefined) this.log.warn({ reason: r.reason, source, ...(held > 0 ? { moreRejected: held } : {}) }, 'node record rejected')
      return 'reject'
    }
    this.opts.hlc.observe(r.env.hlc)
    this.opts.metrics.applied.inc({ map: 'nodes', source })
    this.detector.observe(r.env.author, r.record)
    this.emit('node:record', r.record)
    return 'accept'
  }

  /**
   * outlived answers a record of this node, signed by its key, that a peer holds and that is
   * newer than ours: an earlier life's (its `left` on the way down, typically). A life's hybrid
   * clock runs as far ahead as the fastest peer's (hosts 45 s ahead are common at the edge),
   * so a process restarted sooner than that signs its first records below the last one of
   * its previous life, and every peer holding that one keeps this node Left, and anti-entropy
   * spreads it. We take its time and sign our record again, above it. It is not kept or
   * relayed: peers learn from ours.
   */
  private outlived(hlc: string, record: NodeRecord): Verdict {
    if (this.stopped || !this.opts.hlc.observe(hlc)) return 'ignore'
    this.log.info({ hlc, startedAt: record.startedAt, state: record.state }, 'a peer holds a newer record of this node (an earlier life): signing ours again above it')
    this.pacer.changed()
    return 'ignore'
  }

  /** nodes lists every known node (this one included) with its state. A suspected node is Alive. */
  nodes(): NodeView[] {
    const out: NodeView[] = []
    for (const env of this.book.map.live(Prefix.nodeRecord)) {
      const keyId = env.author
      if (keyId === this.opts.keyId) {
        out.push({ record: this.selfRecord, keyId, state: 'Alive', lastSeen: this.opts.clock.wall() })
        continue
      }
      const seen = this.detector.state(keyId)
      out.push({ record: env.value as NodeRecord, keyId, state: seen?.state ?? 'Alive', lastSeen: seen?.lastSeen ?? 0 })
    }
    return out.sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0))
  }

  /** admissionChanged re-judges the records held of keys that were not members (their number is bounded: records.ts). */
  admissionChanged(): void {
    this.book.recount()
  }

  /** suspected tells whether this agent currently suspects a node (the API shows it Alive until it is declared Unreachable). */
  suspected(keyId: string): boolean {
    return this.detector.suspected(keyId)
  }

  /** incarnation returns this node's incarnation: raised only to refute a suspicion of this node. */
  incarnation(): number {
    return this.selfRecord.incarnation
  }

  /** beat signs the current record, merges it into our own map and publishes it. */
  private async beat(): Promise<void> {
    this.pacer.published()
    const env = signEnvelope(StoreKey.nodeRecord(this.opts.keyId), this.selfRecord, this.opts.hlc.now(), this.opts.signingKey)
    this.book.own(env)
    try {
      await this.opts.transport.publish(Topics.nodes, new TextEncoder().encode(JSON.stringify(env)))
    } catch (err) {
      // Only an oversized record fails to publish; peers still get it by anti-entropy.
      this.log.error({ err }, 'publishing the node record failed')
    }
  }

  /**
   * refute raises our incarnation above a suspicion's and publishes the record: alive(i + 1)
   * overrides suspect(i) everywhere. The record goes out once more two periods later (unless
   * it changed again): gossip repairs a lost message only for a few seconds, and a lost
   * refutation turns into a failure verdict.
   */
  private refute(incarnation: number): void {
    if (this.stopped || incarnation < this.selfRecord.incarnation) return
    const next = Math.min(MAX_INCARNATION, incarnation + 1)
    this.selfRecord = { ...this.selfRecord, incarnation: next }
    void this.beat()
    this.opts.clock.after(2 * this.opts.heartbeatMs, () => {
      if (!this.stopped && this.selfRecord.incarnation === next) void this.beat()
    })
  }

  /** tick is one protocol period: a record whose addresses changed goes out, the detector probes, the mesh is kept. */
  private async tick(): Promise<void> {
    if (this.stopped) return
    const addresses = this.opts.transport.addresses().slice(0, this.opts.timings.membership.maxAddresses)
    if (addresses.join(' ') !== this.selfRecord.addresses.join(' ')) {
      this.selfRecord = { ...this.selfRecord, addresses }
      await this.beat()
    }
    this.detector.tick()
    await this.mesh.keep()
  }
}
