// The failure detector: SWIM with Lifeguard's extensions, as memberlist does it. Each
// protocol period it pings one member (round-robin over a shuffled list); a member that
// does not ack within the probe timeout is probed through k others (ping-req); only when
// none of them reaches it is it suspected. A suspicion is published on the nodes topic and
// times out into failed (Unreachable) after a timeout that grows with log N and shrinks as
// other members confirm it; a suspected live member refutes it with a higher incarnation
// (its record, published again). A closed connection is a hint to probe at once, never a
// verdict. The rules are core/swim.ts; this file only drives them. It owns no timers or
// sockets: time comes from the Clock, channels and gossip from the Transport.
//
// Per member it keeps a few numbers (state, incarnation, when heard from) and, while
// suspected, a small suspicion record. Per period it does O(1) work whatever the fleet's size
// (one probe; a sweep of the members that are down).

import type { Logger } from 'pino'
import type { NodeRecord } from '../../core/node-record.js'
import {
  Awareness,
  ProbeOrder,
  RandomSet,
  expectedConfirmations,
  suspicionBounds,
  suspicionTimeout,
  transition,
  type Random,
  type SuspicionBounds,
  type SwimState,
} from '../../core/swim.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import { PROBE_PROTOCOL, Topics } from '../network/constants.js'
import type { FrameChannel, Transport, Verdict } from '../transport.js'
import { MAX_PROBE_FRAME_BYTES, decodeFrame, encodeJson, type Notice, type View } from './messages.js'

/** NodeState is a node's state as the API shows it; a suspected node is still Alive. */
export type NodeState = 'Alive' | 'Unreachable' | 'Left'

export interface DetectorOptions {
  transport: Pick<Transport, 'open' | 'serve' | 'publish' | 'onConnect' | 'onDisconnect'>
  clock: Clock
  random: Random
  /** This agent's key id. */
  keyId: string
  /** The protocol period (`--heartbeat`). */
  periodMs: number
  /** The suspicion timeout's floor (`--suspicion`): see core/swim.ts suspicionBounds. */
  suspicionMs: number
  /** A member that is down and silent this long is forgotten. */
  forgetMs: number
  timings: Timings['membership']
  /** incarnation returns this agent's own incarnation. */
  incarnation(): number
  /** refute must raise our incarnation above `incarnation` and publish our record. Synchronous; must not block. */
  refute(incarnation: number): void
  /** forgotten is told that a member was dropped: its record must go too. */
  forgotten(keyId: string): void
  metrics: Metrics
  log: Logger
}

interface Member {
  keyId: string
  name: string
  peerId: string
  addresses: readonly string[]
  swim: SwimState
  /** Its record says it left cleanly. */
  left: boolean
  /** Monotonic time we last heard from it (a new record version, an ack, a ping): the forget horizon counts from it. */
  heardAt: number
  /** Wall time of the same, for people. */
  seenAt: number
  /** Monotonic time of the last probe a hint started (at most one per period). */
  hintAt: number
  suspicion: Suspicion | undefined
}

interface Suspicion {
  incarnation: number
  /** Monotonic time the suspicion started. */
  since: number
  bounds: SuspicionBounds
  /** Confirmations that bring the timeout to its minimum. */
  k: number
  /** Members that suspect it, the first one included. */
  by: Set<string>
  timer: Timer
}

type ProbeReason = 'round' | 'hint' | 'confirm' | 'reconnect'

/** FailureDetector probes members, spreads and times suspicions, and refutes suspicions of this agent. */
export class FailureDetector {
  private readonly opts: DetectorOptions
  private readonly log: Logger
  private readonly members = new Map<string, Member>()
  /** Members neither failed nor left: probe targets and helpers. */
  private readonly live = new RandomSet<string>()
  /** Members failed or left: the forget sweep, and reconnect probes. */
  private readonly down = new RandomSet<string>()
  private leftCount = 0
  /** Peer id -> key id, from records (the first key to name a peer id keeps it). */
  private readonly byPeer = new Map<string, string>()
  private readonly order: ProbeOrder
  private readonly awareness: Awareness
  private readonly probing = new Set<string>()
  private roundBusy = false
  private ticks = 0
  private stopped = false

  constructor(opts: DetectorOptions) {
    this.opts = opts
    this.log = opts.log
    this.order = new ProbeOrder(opts.random)
    this.awareness = new Awareness(opts.timings.awarenessMax)
  }

  /** start serves the probe protocol and listens for connection hints. */
  async start(): Promise<void> {
    const t = this.opts.transport
    t.onDisconnect((peer) => this.hint(peer, 'disconnect'))
    t.onConnect((peer) => this.hint(peer, 'connect'))
    await t.serve(PROBE_PROTOCOL, (channel, peer) => this.answer(channel, peer), {
      maxFrameBytes: MAX_PROBE_FRAME_BYTES,
      // A ping-req is answered after our own probe of its target.
      timeoutMs: Math.max(this.opts.periodMs, 2 * this.probeTimeout()),
      maxStreams: this.opts.timings.maxInboundProbes,
    })
  }

  /** stop ends probing and answering (a stopped agent is silent, as a crashed one); suspicions stop timing out. */
  stop(): void {
    this.stopped = true
    for (const m of this.members.values()) m.suspicion?.timer.cancel()
  }

  /** tick is one protocol period: probe the next member, now and then an Unreachable one, and forget the long gone. */
  tick(): void {
    if (this.stopped) return
    this.ticks++
    // A probe still running (a slow agent: see awareness) makes this period skip its probe.
    if (!this.roundBusy && this.ticks % this.awareness.scale(1) === 0) {
      const target = this.order.next(this.live.values(), (id) => this.live.has(id) && !this.probing.has(id))
      if (target !== undefined) {
        this.roundBusy = true
        void this.probe(target, 'round').finally(() => (this.roundBusy = false))
      }
    }
    if (this.ticks % Math.max(1, this.opts.timings.reconnectPeriods) === 0) {
      const [gone] = this.down.sample(1, this.opts.random, (id) => this.members.get(id)?.left === false && !this.probing.has(id))
      if (gone !== undefined) void this.probe(gone, 'reconnect')
    }
    this.sweep()
  }

  /** observe takes a new version of a member's record (from gossip or anti-entropy): the member is heard from, and may be back, refuted, or gone. */
  observe(keyId: string, record: NodeRecord): void {
    if (keyId === this.opts.keyId) return
    const now = this.opts.clock.mono()
    const left = record.state === 'left'
    let m = this.members.get(keyId)
    if (m === undefined) {
      m = { keyId, name: record.name, peerId: record.peerId, addresses: record.addresses, swim: { status: 'alive', incarnation: record.incarnation, startedAt: record.startedAt }, left, heardAt: now, seenAt: this.opts.clock.wall(), hintAt: -Infinity, suspicion: undefined }
      this.members.set(keyId, m)
      if (!this.byPeer.has(m.peerId)) this.byPeer.set(m.peerId, keyId)
      if (left) {
        this.leftCount++
        this.down.add(keyId)
      } else {
        this.live.add(keyId)
        this.order.add(keyId)
        this.log.info({ peer: m.name }, 'node joined')
      }
      this.gauge()
      return
    }
    m.name = record.name
    m.addresses = record.addresses
    if (m.peerId !== record.peerId) {
      if (this.byPeer.get(m.peerId) === keyId) this.byPeer.delete(m.peerId)
      m.peerId = record.peerId
      if (!this.byPeer.has(m.peerId)) this.byPeer.set(m.peerId, keyId)
    }
    this.heard(m)
    if (left) {
      if (m.left) return
      this.endSuspicion(m)
      m.left = true
      this.leftCount++
      this.live.delete(keyId)
      this.down.add(keyId)
      this.log.info({ peer: m.name }, 'node left')
      this.gauge()
      return
    }
    if (m.left) {
      // Back after a clean leave: a new life, whatever its incarnation.
      m.left = false
      this.leftCount--
      m.swim = { status: 'alive', incarnation: record.incarnation, startedAt: record.startedAt }
      this.down.delete(keyId)
      this.live.add(keyId)
      this.order.add(keyId)
      this.log.info({ peer: m.name }, 'node joined')
      this.gauge()
      return
    }
    const was = m.swim.status
    const next = transition(m.swim, { kind: 'alive', incarnation: record.incarnation, startedAt: record.startedAt })
    if (next === undefined) return
    this.set(m, next)
    if (was !== 'alive') this.log.info({ peer: m.name, incarnation: next.incarnation, was }, was === 'failed' ? 'node is back' : 'node refuted a suspicion')
  }

  /** notice handles a suspicion notice from the nodes topic, published by member `from`. */
  notice(n: Notice, from: string): Verdict {
    // Only members' suspicions count.
    if (!this.members.has(from) || from === n.keyId) return 'ignore'
    if (n.keyId === this.opts.keyId) {
      if (n.incarnation >= this.opts.incarnation()) this.refute(n.incarnation, n.t, from)
      return 'accept'
    }
    const m = this.members.get(n.keyId)
    if (m === undefined || m.left) return 'ignore'
    // Not stale: relay it even when it changes nothing here, as others may need it.
    const current = n.incarnation >= m.swim.incarnation ? 'accept' : 'ignore'
    if (n.t === 'suspect') {
      if (this.suspect(m, n.incarnation, from) === 'new') {
        // Seek confirmation: about confirmProbes members (in expectation, whatever N) probe it now.
        const others = Math.max(1, this.memberCount() - 2)
        if (this.opts.random() < this.opts.timings.confirmProbes / others) void this.probe(m.keyId, 'confirm')
      }
      return current
    }
    this.fail(m, n.incarnation, from)
    return current
  }

  /** state returns how this agent sees a member: its API state and when it was last heard from (wall ms), or undefined when unknown. */
  state(keyId: string): { state: NodeState; lastSeen: number } | undefined {
    const m = this.members.get(keyId)
    if (m === undefined) return undefined
    return { state: m.left ? 'Left' : m.swim.status === 'failed' ? 'Unreachable' : 'Alive', lastSeen: m.seenAt }
  }

  /** suspected tells whether this agent currently suspects a member (internal: the API shows it Alive). */
  suspected(keyId: string): boolean {
    return this.members.get(keyId)?.swim.status === 'suspect'
  }

  /** health returns Lifeguard's local health score (0 is healthy). */
  health(): number {
    return this.awareness.health()
  }

  /** dialCandidates returns up to n members to connect to, not in `connected`: live ones first, then Unreachable ones (a healed partition). */
  dialCandidates(n: number, connected: ReadonlySet<string>): { peerId: string; addresses: readonly string[] }[] {
    const ok = (id: string): boolean => {
      const m = this.members.get(id)
      return m !== undefined && !m.left && !connected.has(m.peerId)
    }
    const ids = this.live.sample(n, this.opts.random, ok)
    if (ids.length < n) ids.push(...this.down.sample(n - ids.length, this.opts.random, ok))
    return ids.map((id) => this.members.get(id) as Member)
  }

  private probeTimeout(): number {
    // At most half a period: the other half is for the indirect probes.
    return Math.min(this.opts.timings.probeTimeoutMs, Math.floor(this.opts.periodMs / 2))
  }

  private memberCount(): number {
    return this.members.size - this.leftCount + 1
  }

  private hint(peer: string, kind: 'connect' | 'disconnect'): void {
    const keyId = this.byPeer.get(peer)
    const m = keyId === undefined ? undefined : this.members.get(keyId)
    if (m === undefined || m.left || this.stopped) return
    if (kind === 'connect') {
      // A connection from a member we hold failed: it may be back; tell it so it refutes.
      if (m.swim.status === 'failed') void this.probe(m.keyId, 'reconnect')
      return
    }
    const now = this.opts.clock.mono()
    if (m.swim.status === 'failed' || now - m.hintAt < this.opts.periodMs) return
    m.hintAt = now
    void this.probe(m.keyId, 'hint')
  }

  /**
   * probe pings a member; when it does not ack, asks k others to (ping-req) and suspects it
   * only if none of them reaches it either. A reconnect probe is a ping only.
   */
  private async probe(keyId: string, why: ProbeReason): Promise<void> {
    const m = this.members.get(keyId)
    if (m === undefined || m.left || this.stopped || this.probing.has(keyId)) return
    this.probing.add(keyId)
    try {
      const start = this.opts.clock.mono()
      const timeout = this.awareness.scale(this.probeTimeout())
      if (await this.ping(m, timeout)) {
        this.awareness.apply(-1)
        return
      }
      if (why === 'reconnect' || this.stopped || this.members.get(keyId) !== m || m.left || m.swim.status === 'failed') return
      const helpers = this.live.sample(this.opts.timings.indirectChecks, this.opts.random, (id) => id !== keyId)
      const budget = Math.max(timeout, this.awareness.scale(this.opts.periodMs) - (this.opts.clock.mono() - start))
      const { acked, nacks } = await firstAck(helpers.map((h) => this.indirect(h, m, budget)))
      if (acked) return
      // Lifeguard: helpers that did not even nack suggest the fault is ours.
      this.awareness.apply(helpers.length > 0 ? helpers.length - nacks : 1)
      if (this.stopped || this.members.get(keyId) !== m || m.left) return
      this.log.debug({ peer: m.name, why, helpers: helpers.length, nacks }, 'probe failed')
      const r = this.suspect(m, m.swim.incarnation, this.opts.keyId)
      if (r !== 'none') this.publish({ t: 'suspect', keyId, incarnation: m.swim.incarnation })
    } finally {
      this.probing.delete(keyId)
    }
  }

  /** ping sends one ping over a fresh channel (dialling the member's addresses when not connected) and waits for the ack. */
  private async ping(m: Member, timeoutMs: number): Promise<boolean> {
    let channel: FrameChannel | undefined
    try {
      channel = await this.opts.transport.open(m.peerId, PROBE_PROTOCOL, { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs }, m.addresses)
      await channel.write(encodeJson({ t: 'ping', you: viewOf(m) }))
      const frame = decodeFrame(await channel.read())
      if (frame.t !== 'ack') throw new Error(`expected an ack, got ${frame.t}`)
      await channel.close().catch(() => undefined)
      if (this.members.get(m.keyId) === m) this.heard(m)
      if (frame.you !== undefined) this.check(frame.you, m.keyId)
      return true
    } catch (err) {
      await channel?.close().catch(() => undefined)
      this.log.trace({ peer: m.name, err: (err as Error).message }, 'ping failed')
      return false
    }
  }

  /** indirect asks member `helperId` to ping `target` for us; resolves to its answer, or 'none'. */
  private async indirect(helperId: string, target: Member, timeoutMs: number): Promise<'ack' | 'nack' | 'none'> {
    const helper = this.members.get(helperId)
    if (helper === undefined) return 'none'
    let channel: FrameChannel | undefined
    try {
      channel = await this.opts.transport.open(helper.peerId, PROBE_PROTOCOL, { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs }, helper.addresses)
      await channel.write(encodeJson({ t: 'ping-req', target: target.keyId }))
      const frame = decodeFrame(await channel.read())
      await channel.close().catch(() => undefined)
      if (this.members.get(helperId) === helper) this.heard(helper)
      return frame.t === 'ack' ? 'ack' : frame.t === 'nack' ? 'nack' : 'none'
    } catch {
      await channel?.close().catch(() => undefined)
      return 'none'
    }
  }

  /** answer serves one probe channel: a ping is acked; a member's ping-req is carried out and answered ack or nack. */
  private async answer(channel: FrameChannel, peer: string): Promise<void> {
    if (this.stopped) throw new Error('stopped')
    const frame = decodeFrame(await channel.read())
    const fromId = this.byPeer.get(peer)
    const from = fromId === undefined ? undefined : this.members.get(fromId)
    if (frame.t === 'ping') {
      if (from !== undefined) this.heard(from)
      if (frame.you !== undefined) this.check(frame.you, fromId)
      await channel.write(encodeJson(from === undefined ? { t: 'ack' } : { t: 'ack', you: viewOf(from) }))
      return
    }
    if (frame.t === 'ping-req') {
      // Only members make this agent probe for them.
      if (from === undefined) throw new Error('ping-req from a peer that is not a member')
      this.heard(from)
      const target = this.members.get(frame.target)
      const ok = frame.target === this.opts.keyId || (target !== undefined && !target.left && (await this.ping(target, this.awareness.scale(this.probeTimeout()))))
      await channel.write(encodeJson({ t: ok ? 'ack' : 'nack' }))
      return
    }
    throw new Error(`unexpected ${frame.t} frame`)
  }

  /** check looks at what a peer believes of us: suspected or failed at our incarnation (or later) calls for a refutation. */
  private check(view: View, by: string | undefined): void {
    if (view.status !== 'alive' && view.incarnation >= this.opts.incarnation()) this.refute(view.incarnation, view.status, by)
  }

  private refute(incarnation: number, status: string, by: string | undefined): void {
    if (this.stopped) return
    // Lifeguard: being suspected suggests we are slow.
    this.awareness.apply(1)
    this.log.warn({ incarnation, status, by: by === undefined ? undefined : this.members.get(by)?.name }, 'this node is suspected: refuting')
    this.opts.refute(incarnation)
  }

  /**
   * suspect records a suspicion of `m` at `incarnation` by member `by` (this agent included):
   * a new suspicion starts the timer; another member's suspicion of the same incarnation is a
   * confirmation, which shortens it. Returns what happened.
   */
  private suspect(m: Member, incarnation: number, by: string): 'new' | 'confirmed' | 'none' {
    const s = m.suspicion
    if (s !== undefined && m.swim.status === 'suspect' && incarnation === s.incarnation) return this.confirm(m, s, by) ? 'confirmed' : 'none'
    const next = transition(m.swim, { kind: 'suspect', incarnation })
    if (next === undefined) return 'none'
    this.set(m, next)
    const n = this.memberCount()
    const bounds = suspicionBounds(n, this.opts.suspicionMs, this.opts.timings.suspicionMaxMult)
    const k = expectedConfirmations(this.opts.timings.suspicionConfirmations, n)
    const timeout = suspicionTimeout(bounds, k, 0)
    m.suspicion = { incarnation, since: this.opts.clock.mono(), bounds, k, by: new Set([by]), timer: this.opts.clock.after(timeout, () => this.expire(m, incarnation)) }
    this.log.info({ peer: m.name, incarnation, by: by === this.opts.keyId ? 'self' : this.members.get(by)?.name, timeoutMs: timeout }, 'node suspected')
    return 'new'
  }

  /** confirm counts another member's suspicion and moves the timer closer; false when it was known or no more are needed. */
  private confirm(m: Member, s: Suspicion, by: string): boolean {
    if (s.by.has(by) || s.by.size - 1 >= s.k) return false
    s.by.add(by)
    const timeout = suspicionTimeout(s.bounds, s.k, s.by.size - 1)
    const remaining = Math.max(0, s.since + timeout - this.opts.clock.mono())
    s.timer.cancel()
    s.timer = this.opts.clock.after(remaining, () => this.expire(m, s.incarnation))
    return true
  }

  /** expire declares a still-suspected member failed and tells the fleet. */
  private expire(m: Member, incarnation: number): void {
    if (this.stopped || this.members.get(m.keyId) !== m || m.swim.status !== 'suspect' || m.swim.incarnation !== incarnation) return
    const since = m.suspicion?.since ?? this.opts.clock.mono()
    const confirmations = (m.suspicion?.by.size ?? 1) - 1
    if (!this.fail(m, incarnation, undefined, { suspectedMs: Math.round(this.opts.clock.mono() - since), confirmations })) return
    this.publish({ t: 'failed', keyId: m.keyId, incarnation })
  }

  /** fail applies a failed verdict at `incarnation` (ours when `by` is undefined); returns whether it changed the member. */
  private fail(m: Member, incarnation: number, by: string | undefined, detail: Record<string, unknown> = {}): boolean {
    const next = transition(m.swim, { kind: 'failed', incarnation })
    if (next === undefined) return false
    const was = m.swim.status
    this.set(m, next)
    if (was !== 'failed') this.log.warn({ peer: m.name, incarnation, by: by === undefined ? 'self' : this.members.get(by)?.name, ...detail }, 'node unreachable')
    return true
  }

  /** set moves a member to a new SWIM state, keeping the live and down sets and the suspicion in step. */
  private set(m: Member, next: SwimState): void {
    const wasLive = m.swim.status !== 'failed'
    if (m.suspicion !== undefined && (next.status !== 'suspect' || next.incarnation !== m.suspicion.incarnation)) this.endSuspicion(m)
    m.swim = next
    const isLive = next.status !== 'failed'
    if (!m.left && isLive !== wasLive) {
      if (isLive) {
        this.down.delete(m.keyId)
        this.live.add(m.keyId)
        this.order.add(m.keyId)
      } else {
        this.live.delete(m.keyId)
        this.down.add(m.keyId)
      }
      this.gauge()
    }
  }

  private endSuspicion(m: Member): void {
    m.suspicion?.timer.cancel()
    m.suspicion = undefined
  }

  private heard(m: Member): void {
    m.heardAt = this.opts.clock.mono()
    m.seenAt = this.opts.clock.wall()
  }

  /** sweep forgets members that are down (failed or left) and were not heard from for forgetMs. O(members down). */
  private sweep(): void {
    const now = this.opts.clock.mono()
    const gone = this.down.values().filter((id) => now - (this.members.get(id)?.heardAt ?? now) > this.opts.forgetMs)
    for (const id of gone) {
      const m = this.members.get(id) as Member
      this.endSuspicion(m)
      this.members.delete(id)
      this.down.delete(id)
      this.live.delete(id)
      if (m.left) this.leftCount--
      if (this.byPeer.get(m.peerId) === id) this.byPeer.delete(m.peerId)
      this.opts.forgotten(id)
      this.log.info({ peer: m.name }, 'node forgotten')
    }
    if (gone.length > 0) this.gauge()
  }

  /** gauge sets the nodes-by-state gauge (this agent counted Alive); O(1). */
  private gauge(): void {
    this.opts.metrics.nodes.set({ state: 'Alive' }, this.live.size + 1)
    this.opts.metrics.nodes.set({ state: 'Unreachable' }, this.down.size - this.leftCount)
    this.opts.metrics.nodes.set({ state: 'Left' }, this.leftCount)
  }

  private publish(n: Notice): void {
    this.opts.transport.publish(Topics.nodes, encodeJson(n)).catch((err: unknown) => this.log.debug({ err }, 'publishing a notice failed'))
  }
}

const viewOf = (m: Member): View => ({ status: m.swim.status, incarnation: m.swim.incarnation })

/** firstAck resolves as soon as one answer is an ack, or once all are in, with the nacks counted. */
function firstAck(answers: Promise<'ack' | 'nack' | 'none'>[]): Promise<{ acked: boolean; nacks: number }> {
  return new Promise((resolve) => {
    let pending = answers.length
    let nacks = 0
    if (pending === 0) resolve({ acked: false, nacks })
    for (const a of answers) {
      void a.then((r) => {
        if (r === 'ack') resolve({ acked: true, nacks })
        if (r === 'nack') nacks++
        if (--pending === 0) resolve({ acked: false, nacks })
      })
    }
  })
}
