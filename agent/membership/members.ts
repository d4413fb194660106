// The member table: what this agent holds of every other member (how to reach it, its SWIM
// state, when it was last heard from, a suspicion while there is one), the sets that make
// every per-period choice O(1) whatever the fleet's size (live members to probe and ask for
// help, down members to forget or ping back), the probe order, and the nodes gauge. No
// protocol here (detector.ts) and no I/O.

import type { NodeRecord } from '../../core/node-record.js'
import { ProbeOrder, RandomSet, type Random, type SuspicionBounds, type SwimState } from '../../core/swim.js'
import type { Timer } from '../clock.js'
import type { Metrics } from '../metrics.js'

/** Member is one other node as the failure detector holds it: a few numbers, and a suspicion while suspected. */
export interface Member {
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

/** Suspicion is a running suspicion of one incarnation of a member. */
export interface Suspicion {
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

/** MemberTable holds the members and keeps the live and down sets, the peer index and the gauge in step. */
export class MemberTable {
  private readonly members = new Map<string, Member>()
  /** Members neither failed nor left: probe targets and helpers. */
  private readonly live = new RandomSet<string>()
  /** Members failed or left: the forget sweep, and reconnect pings. */
  private readonly down = new RandomSet<string>()
  private leftCount = 0
  /** Peer id -> key id, from records (the first key to name a peer id keeps it). */
  private readonly byPeer = new Map<string, string>()
  private readonly order: ProbeOrder
  private readonly random: Random
  private readonly metrics: Metrics

  constructor(random: Random, metrics: Metrics) {
    this.random = random
    this.order = new ProbeOrder(random)
    this.metrics = metrics
  }

  get(keyId: string): Member | undefined {
    return this.members.get(keyId)
  }

  /** ofPeer returns the member whose record first named a peer id. */
  ofPeer(peerId: string): Member | undefined {
    const keyId = this.byPeer.get(peerId)
    return keyId === undefined ? undefined : this.members.get(keyId)
  }

  /** count returns N for the suspicion formula: members that have not left, this agent included. */
  count(): number {
    return this.members.size - this.leftCount + 1
  }

  /** all iterates every member (O(N): stop only). */
  all(): IterableIterator<Member> {
    return this.members.values()
  }

  /** add takes a member seen for the first time, from its record. */
  add(keyId: string, record: NodeRecord, now: { mono: number; wall: number }): Member {
    const left = record.state === 'left'
    const m: Member = { keyId, name: record.name, peerId: record.peerId, addresses: record.addresses, swim: { status: 'alive', incarnation: record.incarnation, startedAt: record.startedAt }, left, heardAt: now.mono, seenAt: now.wall, hintAt: -Infinity, suspicion: undefined }
    this.members.set(keyId, m)
    if (!this.byPeer.has(m.peerId)) this.byPeer.set(m.peerId, keyId)
    if (left) {
      this.leftCount++
      this.down.add(keyId)
    } else {
      this.live.add(keyId)
      this.order.add(keyId)
    }
    this.gauge()
    return m
  }

  /** reach updates how to reach a member (its record's name, peer id and addresses). */
  reach(m: Member, record: NodeRecord): void {
    m.name = record.name
    m.addresses = record.addresses
    if (m.peerId === record.peerId) return
    if (this.byPeer.get(m.peerId) === m.keyId) this.byPeer.delete(m.peerId)
    m.peerId = record.peerId
    if (!this.byPeer.has(m.peerId)) this.byPeer.set(m.peerId, m.keyId)
  }

  /** setLeft marks a member left (its record says so) or back (a newer record from a new life, `swim`). */
  setLeft(m: Member, left: boolean, swim?: SwimState): void {
    if (m.left === left) return
    endSuspicion(m)
    m.left = left
    if (swim !== undefined) m.swim = swim
    if (left) {
      this.leftCount++
      this.live.delete(m.keyId)
      this.down.add(m.keyId)
    } else {
      this.leftCount--
      const live = m.swim.status !== 'failed'
      if (live) {
        this.down.delete(m.keyId)
        this.live.add(m.keyId)
        this.order.add(m.keyId)
      }
    }
    this.gauge()
  }

  /** setSwim moves a member to a new SWIM state; a suspicion of another incarnation or state ends. */
  setSwim(m: Member, next: SwimState): void {
    const wasLive = m.swim.status !== 'failed'
    if (m.suspicion !== undefined && (next.status !== 'suspect' || next.incarnation !== m.suspicion.incarnation)) endSuspicion(m)
    m.swim = next
    const isLive = next.status !== 'failed'
    if (m.left || isLive === wasLive) return
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

  /** nextToProbe returns the next live member in the probe order for which `ok` holds. */
  nextToProbe(ok: (keyId: string) => boolean): string | undefined {
    return this.order.next(this.live.values(), (id) => this.live.has(id) && ok(id))
  }

  /** helpers returns up to n random live members for which `ok` holds. */
  helpers(n: number, ok: (keyId: string) => boolean): Member[] {
    return this.live.sample(n, this.random, ok).map((id) => this.members.get(id) as Member)
  }

  /** oneFailed returns a random failed (not left) member for which `ok` holds. */
  oneFailed(ok: (keyId: string) => boolean): Member | undefined {
    const [id] = this.down.sample(1, this.random, (x) => this.members.get(x)?.left === false && ok(x))
    return id === undefined ? undefined : this.members.get(id)
  }

  /** dialCandidates returns up to n members not in `connected`: live ones first, then failed ones. */
  dialCandidates(n: number, connected: ReadonlySet<string>): Member[] {
    const ok = (id: string): boolean => {
      const m = this.members.get(id)
      return m !== undefined && !m.left && !connected.has(m.peerId)
    }
    const ids = this.live.sample(n, this.random, ok)
    if (ids.length < n) ids.push(...this.down.sample(n - ids.length, this.random, ok))
    return ids.map((id) => this.members.get(id) as Member)
  }

  /** expired returns the down members (failed or left) not heard from since `before` (monotonic). O(members down). */
  expired(before: number): Member[] {
    return this.down.values().flatMap((id) => {
      const m = this.members.get(id)
      return m !== undefined && m.heardAt < before ? [m] : []
    })
  }

  /** remove drops a member (forgotten). */
  remove(m: Member): void {
    endSuspicion(m)
    this.members.delete(m.keyId)
    this.down.delete(m.keyId)
    this.live.delete(m.keyId)
    if (m.left) this.leftCount--
    if (this.byPeer.get(m.peerId) === m.keyId) this.byPeer.delete(m.peerId)
    this.gauge()
  }

  /** gauge sets the nodes-by-state gauge (this agent counted Alive); O(1). */
  private gauge(): void {
    this.metrics.nodes.set({ state: 'Alive' }, this.live.size + 1)
    this.metrics.nodes.set({ state: 'Unreachable' }, this.down.size - this.leftCount)
    this.metrics.nodes.set({ state: 'Left' }, this.leftCount)
  }
}

/** endSuspicion cancels a member's suspicion timer and drops the suspicion. */
export function endSuspicion(m: Member): void {
  m.suspicion?.timer.cancel()
  m.suspicion = undefined
}
