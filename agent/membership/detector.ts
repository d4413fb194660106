// The failure detector: SWIM with Lifeguard's extensions, as memberlist does it. Each
// protocol period it pings one member (round-robin over a shuffled list, connected members
// first: targets.ts); a member that does not ack within the probe timeout is probed through
// k others (ping-req); only when none of them reaches it is it suspected. A suspicion is published on the nodes topic and
// times out into failed (Unreachable) after a timeout that grows with log N and shrinks as
// other members confirm it; a suspected live member refutes it with a higher incarnation
// (its record, published again). A closed connection is a hint to probe at once, never a
// verdict. The rules are core/swim.ts; this file only drives them. It owns no timers or
// sockets: time comes from the Clock, channels and gossip from the Transport. The wire
// protocol is prober.ts, the member table members.ts. Per period it does O(1) work whatever
// the fleet's size (one probe; a sweep of the members that are down).

import type { Logger } from 'pino'
import type { NodeRecord } from '../../core/node-record.js'
import { expectedConfirmations, suspicionBounds, suspicionTimeout, transition } from '../../core/swim.js'
import { Topics } from '../network/constants.js'
import type { Verdict } from '../transport.js'
import type { DetectorOptions, NodeState } from './detector-options.js'
import { MemberTable, type Member, type Suspicion } from './members.js'
import { encodeJson, type Notice, type View } from './messages.js'
import { Prober } from './prober.js'
import { firstAck, helpersFor, nextTarget } from './targets.js'

export type { DetectorOptions, NodeState, StateFingerprint } from './detector-options.js'

type ProbeReason = 'round' | 'hint' | 'confirm' | 'reconnect'

/** FailureDetector probes members, spreads and times suspicions, and refutes suspicions of this agent. */
export class FailureDetector {
  private readonly opts: DetectorOptions
  private readonly log: Logger
  private readonly members: MemberTable
  private readonly prober: Prober
  private readonly probing = new Set<string>()
  /** Members whose last probes failed directly but were acked through helpers, and how many times running (bounded by the members). */
  private readonly indirectOnly = new Map<string, number>()
  private roundBusy = false
  private ticks = 0
  /** Monotonic time of the last tick: a tick that comes late says this agent is starved. */
  private lastTick: number | undefined
  private stopped = false

  constructor(opts: DetectorOptions) {
    this.opts = opts
    this.log = opts.log
    this.members = new MemberTable(opts.random, opts.metrics)
    const peer = (keyId: string): Member | undefined => {
      const m = this.members.get(keyId)
      return m === undefined || m.left ? undefined : m
    }
    this.prober = new Prober({
      transport: opts.transport,
      clock: opts.clock,
      keyId: opts.keyId,
      periodMs: opts.periodMs,
      timings: opts.timings,
      host: {
        peer,
        view: (keyId) => {
          const m = this.members.get(keyId)
          return m === undefined ? undefined : { status: m.swim.status, incarnation: m.swim.incarnation }
        },
        self: () => ({ incarnation: opts.incarnation(), startedAt: opts.startedAt() }),
        heard: (keyId) => {
          const m = this.members.get(keyId)
          if (m !== undefined) this.heard(m)
        },
        alive: (keyId, self) => {
          const m = this.members.get(keyId)
          if (m !== undefined) this.alive(m, self.incarnation, self.startedAt)
        },
        told: (view, by) => this.check(view, by),
        fingerprint: () => opts.state?.fingerprint(),
        differs: (peerId) => opts.state?.differs(peerId),
      },
      log: opts.log,
    })
  }

  /** start serves the probe protocol and listens for connection hints. */
  async start(): Promise<void> {
    const t = this.opts.transport
    t.onDisconnect((peer) => this.hint(peer, 'disconnect'))
    t.onConnect((peer) => this.hint(peer, 'connect'))
    await this.prober.serve()
  }

  /** stop ends probing and answering (silent, as a crashed agent); suspicions stop timing out. */
  stop(): void {
    this.stopped = true
    this.prober.stop()
    for (const m of this.members.all()) m.suspicion?.timer.cancel()
  }

  /** tick is one protocol period: probe the next member, now and then an Unreachable one, and forget the long gone. */
  tick(): void {
    if (this.stopped) return
    this.ticks++
    const now = this.opts.clock.mono()
    // Lifeguard: a period timer that fires late means this agent was starved; its own probes may time out unfairly.
    if (this.lastTick !== undefined && now - this.lastTick - this.opts.periodMs > this.prober.baseTimeout()) this.prober.awareness.apply(1)
    this.lastTick = now
    // A probe still running (a slow agent: see awareness) makes this period skip its probe.
    if (!this.roundBusy && this.ticks % this.prober.awareness.scale(1) === 0) {
      const target = nextTarget(this.members, this.opts.transport, (id) => !this.probing.has(id))
      if (target !== undefined) {
        this.roundBusy = true
        void this.probe(target, 'round').finally(() => (this.roundBusy = false))
      }
    }
    if (this.ticks % Math.max(1, this.opts.timings.reconnectPeriods) === 0) {
      const gone = this.members.oneFailed((id) => !this.probing.has(id))
      if (gone !== undefined) void this.probe(gone.keyId, 'reconnect')
    }
    this.sweep()
  }

  /** observe takes a new version of a member's record (from gossip or anti-entropy): the member is heard from, and may be back, refuted, or gone. */
  observe(keyId: string, record: NodeRecord): void {
    if (keyId === this.opts.keyId) return
    const left = record.state === 'left'
    const m = this.members.get(keyId)
    if (m === undefined) {
      const added = this.members.add(keyId, record, { mono: this.opts.clock.mono(), wall: this.opts.clock.wall() })
      if (!left) this.log.info({ peer: added.name }, 'node joined')
      return
    }
    this.members.reach(m, record)
    this.heard(m)
    if (left !== m.left) {
      // Back after a clean leave: a new life, whatever its incarnation.
      this.members.setLeft(m, left, left ? undefined : { status: 'alive', incarnation: record.incarnation, startedAt: record.startedAt })
      this.log.info({ peer: m.name }, left ? 'node left' : 'node joined')
      return
    }
    if (!left) this.alive(m, record.incarnation, record.startedAt)
  }

  /** alive applies alive news about a member (its record, or its own ack). */
  private alive(m: Member, incarnation: number, startedAt: number): void {
    if (m.left) return
    const was = m.swim.status
    const next = transition(m.swim, { kind: 'alive', incarnation, startedAt })
    if (next === undefined) return
    this.members.setSwim(m, next)
    if (was === 'failed') this.log.info({ peer: m.name, incarnation }, 'node is back')
    else if (was === 'suspect') this.log.debug({ peer: m.name, incarnation }, 'node refuted a suspicion')
  }

  /** notice handles a suspicion notice from the nodes topic, published by member `from`. */
  notice(n: Notice, from: string): Verdict {
    // Only members' suspicions count.
    if (this.members.get(from) === undefined || from === n.keyId) return 'ignore'
    if (n.keyId === this.opts.keyId) {
      if (n.incarnation >= this.opts.incarnation()) this.refute(this.opts.incarnation(), n.t, from)
      return 'accept'
    }
    const m = this.members.get(n.keyId)
    if (m === undefined || m.left) return 'ignore'
    // Only a member raises its own incarnation, and its signed record says to which: a notice
    // above that is clamped to it, so that a hostile member cannot name an incarnation (2^31)
    // the victim could never refute. A genuine notice of a refutation we missed loses nothing
    // that our own probes do not find again.
    // Such a notice is not relayed.
    const beyond = n.incarnation > m.swim.incarnation
    if (beyond) n = { ...n, incarnation: m.swim.incarnation }
    // Relayed only when it changed something here (a new suspicion, a confirmation that
    // counts, a failure): every member whose view it changes passes it on, so it reaches the
    // mesh as an epidemic does. One that changes nothing is not relayed: every member times a
    // suspicion out at about the same moment and publishes its own `failed`, and relaying
    // each of those to the whole fleet made one failure cost every host N broadcasts.
    const relay = (changed: boolean): Verdict => (!beyond && changed ? 'accept' : 'ignore')
    if (n.t === 'suspect') {
      const what = this.suspect(m, n.incarnation, from)
      if (what === 'new') {
        // Seek confirmation: about confirmProbes members (in expectation, whatever N) probe it now.
        const others = Math.max(1, this.members.count() - 2)
        if (this.opts.random() < this.opts.timings.confirmProbes / others) void this.probe(m.keyId, 'confirm')
      }
      return relay(what !== 'none')
    }
    return relay(this.fail(m, n.incarnation, from))
  }

  /** state returns how this agent sees a member: its API state and when it was last heard from (wall ms), or undefined when unknown. */
  state(keyId: string): { state: NodeState; lastSeen: number } | undefined {
    const m = this.members.get(keyId)
    if (m === undefined) return undefined
    return { state: m.left ? 'Left' : m.swim.status === 'failed' ? 'Unreachable' : 'Alive', lastSeen: m.seenAt }
  }

  /** suspected tells whether this agent currently suspects a member (internal: the API shows it Alive). */
  suspected = (keyId: string): boolean => this.members.get(keyId)?.swim.status === 'suspect'

  /** health returns Lifeguard's local health score (0 is healthy). */
  health = (): number => this.prober.awareness.health()

  /** dialCandidates returns up to n members to connect to, not in `connected`: live ones first, then Unreachable ones (a healed partition). */
  dialCandidates(n: number, connected: ReadonlySet<string>): { peerId: string; addresses: readonly string[] }[] {
    return this.members.dialCandidates(n, connected)
  }

  /** expectClose says this agent is closing its connection to `peer` itself: that close is no hint. */
  expectClose(peer: string): void {
    const m = this.members.ofPeer(peer)
    if (m !== undefined) m.hintAt = this.opts.clock.mono()
  }

  private hint(peer: string, kind: 'connect' | 'disconnect'): void {
    const m = this.members.ofPeer(peer)
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
      const timeout = this.prober.timeout()
      // A closed connection with no other to the member goes straight to the helpers: a dial
      // would undo a connection cap's pruning (ours or the member's) and cost a handshake,
      // while the helpers' own connections tell as well whether it is alive.
      // Picked only when needed (a hint, or a ping that failed): most probes are acked.
      const pick = (): Member[] => helpersFor(this.members, this.opts.transport, keyId, this.opts.timings.indirectChecks)
      let helpers = why === 'hint' ? pick() : undefined
      const direct = why !== 'hint' || helpers?.length === 0 || this.connected(m)
      if (direct && (await this.prober.ping(m))) {
        this.prober.awareness.apply(-1)
        this.indirectOnly.delete(keyId)
        return
      }
      if (why === 'reconnect' && this.members.get(keyId) === m) await this.unstick(m)
      if (why === 'reconnect' || this.stopped || this.members.get(keyId) !== m || m.left || m.swim.status === 'failed') return
      // The rest of the period, but at least enough for a helper to dial the target and wait out its own ping.
      const budget = Math.ceil(Math.max(2 * timeout + this.opts.timings.probeDialMs, this.prober.awareness.scale(this.opts.periodMs) - (this.opts.clock.mono() - start)))
      helpers ??= pick()
      const { acked, nacks } = await firstAck(helpers.map((h) => this.prober.indirect(h, keyId, budget)))
      if (acked) {
        if (!direct) return
        // Others reach it and we do not, twice running while this agent is healthy (a starved
        // agent misses pings over good connections): our connection to it is the broken part
        // (a link cut with no reset). Hang up, so the next probe and gossip use a new one.
        const times = (this.indirectOnly.get(keyId) ?? 0) + 1
        this.indirectOnly.set(keyId, times)
        if (times >= 2 && this.prober.awareness.health() === 0 && this.connected(m)) {
          this.indirectOnly.delete(keyId)
          this.log.info({ peer: m.name }, 'reached through others only: reconnecting')
          this.prober.drop(m.peerId)
          await this.opts.transport.hangUp(m.peerId).catch(() => undefined)
        }
        return
      }
      // Lifeguard: helpers that did not even nack suggest the fault is ours.
      this.prober.awareness.apply(helpers.length > 0 ? helpers.length - nacks : 1)
      if (this.stopped || this.members.get(keyId) !== m || m.left) return
      this.log.debug({ peer: m.name, why, helpers: helpers.length, nacks }, 'probe failed')
      const r = this.suspect(m, m.swim.incarnation, this.opts.keyId)
      if (r !== 'none') this.publish({ t: 'suspect', keyId, incarnation: m.swim.incarnation })
    } finally {
      this.probing.delete(keyId)
    }
  }

  /**
   * unstick follows a failed ping of an Unreachable member: our link to it, and our
   * connection when we still hold one, may be what is dead. A stream opened while a path was
   * black-holed (a partition, a NAT that forgot the flow) can stay silent long after the path
   * is back (TCP's retransmission back-off reaches minutes; the connection carries no
   * keep-alive), and neither end hears of it. The next reconnect probe then opens a new link,
   * over a new connection, and reaches the member as soon as the path is back.
   */
  private async unstick(m: Member): Promise<void> {
    this.prober.drop(m.peerId)
    if (!this.connected(m)) return
    this.expectClose(m.peerId)
    await this.opts.transport.hangUp(m.peerId).catch(() => undefined)
  }

  /** check looks at what a peer believes of us: suspected or failed at our incarnation (or later) calls for a refutation. */
  private check(view: View, by: string | undefined): void {
    // Refuting raises ours above our own, never to a number a peer named (see notice).
    if (view.status !== 'alive' && view.incarnation >= this.opts.incarnation()) this.refute(this.opts.incarnation(), view.status, by)
  }

  private refute(incarnation: number, status: string, by: string | undefined): void {
    if (this.stopped) return
    // Lifeguard: being suspected suggests we are slow.
    this.prober.awareness.apply(1)
    this.log.info({ incarnation, status, by: by === undefined ? undefined : this.members.get(by)?.name }, 'this node is suspected: refuting')
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
    this.members.setSwim(m, next)
    const n = this.members.count()
    const bounds = suspicionBounds(n, this.opts.suspicionMs, this.opts.timings.suspicionMaxMult)
    const k = expectedConfirmations(this.opts.timings.suspicionConfirmations, n)
    const timeout = suspicionTimeout(bounds, k, 0)
    m.suspicion = { incarnation, since: this.opts.clock.mono(), bounds, k, by: new Set([by]), timer: this.opts.clock.after(timeout, () => void this.expire(m, incarnation)) }
    // Our own suspicion at info; those we hear of at debug (a busy fleet hears many).
    this.log[by === this.opts.keyId ? 'info' : 'debug']({ peer: m.name, incarnation, by: by === this.opts.keyId ? 'self' : this.members.get(by)?.name, timeoutMs: timeout }, 'node suspected')
    return 'new'
  }

  /** confirm counts another member's suspicion and moves the timer closer; false when it was known or no more are needed. */
  private confirm(m: Member, s: Suspicion, by: string): boolean {
    if (s.by.has(by) || s.by.size - 1 >= s.k) return false
    s.by.add(by)
    const timeout = suspicionTimeout(s.bounds, s.k, s.by.size - 1)
    const remaining = Math.max(0, s.since + timeout - this.opts.clock.mono())
    s.timer.cancel()
    s.timer = this.opts.clock.after(remaining, () => void this.expire(m, s.incarnation))
    return true
  }

  /**
   * expire declares a still-suspected member failed and tells the fleet, after one last
   * direct ping: it carries the suspicion, so a live member refutes in its ack even when
   * gossip lost its refutation (a saturated host, a lossy mesh).
   */
  private async expire(m: Member, incarnation: number): Promise<void> {
    const still = (): boolean => !this.stopped && this.members.get(m.keyId) === m && m.swim.status === 'suspect' && m.swim.incarnation === incarnation
    if (!still()) return
    const since = m.suspicion?.since ?? this.opts.clock.mono()
    const confirmations = (m.suspicion?.by.size ?? 1) - 1
    const ours = m.suspicion?.by.has(this.opts.keyId) === true
    // Only over a connection we hold: every member times the same suspicion out at about the
    // same moment, and a dial from each of them at once would bury a live suspect.
    if (!this.probing.has(m.keyId) && this.connected(m)) {
      this.probing.add(m.keyId)
      try {
        if (await this.prober.ping(m)) return
      } finally {
        this.probing.delete(m.keyId)
      }
    }
    if (!still()) return
    if (!this.fail(m, incarnation, undefined, { suspectedMs: Math.round(this.opts.clock.mono() - since), confirmations })) return
    // Only a member that suspected it itself tells the fleet (at most k + 1 of them: see
    // notice): every member that heard of the suspicion times it out at about the same
    // moment, and a `failed` from each would be N broadcasts for one failure. The others
    // reach the verdict on their own timer, or sooner by a suspecter's `failed`.
    if (ours) this.publish({ t: 'failed', keyId: m.keyId, incarnation })
  }

  /** fail applies a failed verdict at `incarnation` (ours when `by` is undefined); returns whether it changed the member. */
  private fail(m: Member, incarnation: number, by: string | undefined, detail: Record<string, unknown> = {}): boolean {
    const next = transition(m.swim, { kind: 'failed', incarnation })
    if (next === undefined) return false
    const was = m.swim.status
    this.members.setSwim(m, next)
    if (was !== 'failed') this.log.warn({ peer: m.name, incarnation, by: by === undefined ? 'self' : this.members.get(by)?.name, ...detail }, 'node unreachable')
    return true
  }

  /** connected tells whether this agent holds a connection to the member (connectedPeers is bounded by the connection cap). */
  private connected = (m: Member): boolean => this.opts.transport.connectedPeers().includes(m.peerId)

  private heard(m: Member): void {
    m.heardAt = this.opts.clock.mono()
    m.seenAt = this.opts.clock.wall()
  }

  /** sweep forgets members that are down (failed or left) and were not heard from for forgetMs. O(members down). */
  private sweep(): void {
    for (const m of this.members.expired(this.opts.clock.mono() - this.opts.forgetMs)) {
      this.members.remove(m)
      this.indirectOnly.delete(m.keyId)
      this.opts.forgotten(m.keyId)
      this.log.info({ peer: m.name }, 'node forgotten')
    }
  }

  private publish(n: Notice): void {
    this.opts.transport.publish(Topics.nodes, encodeJson(n)).catch((err: unknown) => this.log.debug({ err }, 'publishing a notice failed'))
  }
}
