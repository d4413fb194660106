// Plain-data stand-ins for what the lease is handed: a virtual-time Clock, a LeaseFleet
// over a few members, a log sink, a recording send, and a deterministic random source.
// Tests only; nothing here touches the network, the disk or real time.

import { pino, type Logger } from 'pino'
import { DEFAULT_COMMITTEE, committeeOf, leaseMessageSchema, viewOf, type LeaseMessage, type ReleaseRequest, type SlotKind, type VoterView } from '../../../../core/lease.js'
import type { NodeRecord, PodStatus } from '../../../../core/node-record.js'
import { revisionOf } from '../../../../core/revision.js'
import type { DaemonSet } from '../../../../core/types.js'
import type { Clock, Timer } from '../../../../agent/clock.js'
import type { LeaseFleet, PeerAddress, ReportedHold } from '../../../../agent/lease/fleet-view.js'
import { ds } from '../../../helpers/fixtures.js'
import { seeded as seededUnit } from '../../../helpers/seeded.js'

/** key returns a valid key id (43 base64url characters) starting with `c`. */
export const key = (c: string): string => c.padEnd(43, 'x')

/** DS is the key form of the DaemonSet the tests update. */
export const DS = 'default/agent'

const built = new Map<string, DaemonSet>()

/** daemonSet returns DaemonSet default/agent running `image`, with minReadySeconds (one object per pair: treat it as immutable). */
export function daemonSet(image = 'busybox:1.36', minReadySeconds = 0): DaemonSet {
  const k = `${image}|${minReadySeconds}`
  let d = built.get(k)
  if (d === undefined) built.set(k, (d = ds({ containers: [{ name: 'main', image }] }, { spec: { minReadySeconds } })))
  return d
}

interface PendingTimer {
  id: number
  at: number
  period: number | undefined
  fn: () => void
}

/** FakeClock is virtual time: mono moves only when the test advances it, and timers fire as it passes them. */
export class FakeClock implements Clock {
  private t = 0
  private seq = 0
  private readonly timers = new Map<number, PendingTimer>()

  wall(): number {
    return 1_700_000_000_000 + this.t
  }

  mono(): number {
    return this.t
  }

  after(ms: number, fn: () => void): Timer {
    return this.add(ms, undefined, fn)
  }

  every(ms: number, fn: () => void): Timer {
    return this.add(ms, Math.max(1, ms), fn)
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve))
  }

  /** pending returns how many timers are scheduled. */
  pending(): number {
    return this.timers.size
  }

  /** advance moves time forward by ms, firing every timer due on the way, in time order. */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      let next: PendingTimer | undefined
      for (const x of this.timers.values()) if (x.at <= end && (next === undefined || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x
      if (next === undefined) break
      this.t = next.at
      if (next.period === undefined) this.timers.delete(next.id)
      else next.at += next.period
      next.fn()
    }
    this.t = end
  }

  private add(ms: number, period: number | undefined, fn: () => void): Timer {
    const id = ++this.seq
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), period, fn })
    return { cancel: () => void this.timers.delete(id) }
  }
}

/** peerIdOf returns the peer id a FakeFleet member's record names (its MemoryHub id in tests that use one). */
export const peerIdOf = (name: string): string => `peer-${name}`

/** Member is one host of a FakeFleet. */
export interface Member {
  keyId: string
  name: string
  state?: 'Alive' | 'Unreachable' | 'Left'
  /** What its record reports per DaemonSet; none: no record of a copy. */
  pods?: Record<string, Pick<PodStatus, 'revision' | 'ready'>>
  /** Its agent's version (default 'test'). */
  version?: string
}

// Memos: the fleet model asks for the same revisions, records and views thousands of times.
const revisions = new WeakMap<DaemonSet, string>()
const records = new WeakMap<object, NodeRecord>()
const noPods = {}

/** FakeFleet is a LeaseFleet over plain data the test changes at will. */
export class FakeFleet implements LeaseFleet {
  members: Member[]
  daemonSets = new Map<string, DaemonSet>()
  limits: Record<SlotKind, number> = { unavailable: 1, surge: 0 }
  /** Hosts already unavailable, as voters count them. */
  down = 0
  /** Hosts (key ids) whose record shows a copy not ready: counted unavailable unless the voter leaves them out. */
  downHosts = new Set<string>()
  /** The hosts each turn() was told are moving (not waiting in line), in order. */
  movingAsked: ReadonlySet<string>[] = []
  /** The line of hosts still to update, by node name, for head() (default empty). */
  line: string[] = []
  /** Turn per node name (default 0). */
  turns: Record<string, number> = {}
  /** f, the voters that may lie (quorums of ceil((n+f+1)/2)). */
  f = 1
  /** The committee size (core/lease.ts committeeOf). */
  size = DEFAULT_COMMITTEE
  /** The slots other hosts' records say they hold, per kind (reportedHolds). */
  reported: ReportedHold[] = []
  /** Operators' release requests, by `ds|keyId`. */
  releases = new Map<string, ReleaseRequest>()

  constructor(members: Member[], d: DaemonSet | undefined = daemonSet()) {
    this.members = members
    if (d !== undefined) this.daemonSets.set(DS, d)
  }

  daemonSet(name: string): DaemonSet | undefined {
    return this.daemonSets.get(name)
  }

  revision(name: string): string | undefined {
    const d = this.daemonSets.get(name)
    if (d === undefined) return undefined
    let r = revisions.get(d)
    if (r === undefined) revisions.set(d, (r = revisionOf(d)))
    return r
  }

  voters(): string[] {
    return this.members.filter((m) => m.state !== 'Left').map((m) => m.keyId)
  }

  record(keyId: string): NodeRecord | undefined {
    const m = this.members.find((x) => x.keyId === keyId)
    if (m === undefined) return undefined
    const key = m.pods ?? noPods
    let r = records.get(key)
    if (r === undefined || r.name !== m.name || r.version !== (m.version ?? 'test')) {
      const pods: Record<string, PodStatus> = {}
      for (const [k, p] of Object.entries(m.pods ?? {})) pods[k] = { ...p, phase: p.ready ? 'Running' : 'Pending', restarts: 0, since: 0 }
      r = { name: m.name, peerId: peerIdOf(m.name), addresses: [`/memory/${peerIdOf(m.name)}/p2p/${peerIdOf(m.name)}`], labels: {}, taints: [], conditions: [], version: m.version ?? 'test', state: 'alive', startedAt: 0, incarnation: 0, pods }
      records.set(key, r)
    }
    return r
  }

  isMember(keyId: string): boolean {
    return this.members.some((m) => m.keyId === keyId)
  }

  nameOf(keyId: string): string | undefined {
    return this.members.find((m) => m.keyId === keyId)?.name
  }

  peerOf(keyId: string): PeerAddress | undefined {
    const r = this.record(keyId)
    return r === undefined ? undefined : { peerId: r.peerId, addresses: r.addresses }
  }

  limit(name: string, kind: SlotKind): number {
    return this.daemonSets.has(name) ? this.limits[kind] : 0
  }

  state(keyId: string): 'Alive' | 'Unreachable' | 'Left' | undefined {
    const m = this.members.find((x) => x.keyId === keyId)
    return m === undefined ? undefined : (m.state ?? 'Alive')
  }

  releaseRequest(name: string, keyId: string): ReleaseRequest | undefined {
    return this.releases.get(`${name}|${keyId}`)
  }

  faulty(): number {
    return this.f
  }

  /** An agent of a version before committees is a voter (committees and reported slots are off). */
  legacy = false

  committeeSize(): number {
    return this.legacy ? Number.MAX_SAFE_INTEGER : this.size
  }

  reportsSlots(): boolean {
    return !this.legacy
  }

  committee(ds: string): string[] {
    return committeeOf(this.voters(), ds, this.committeeSize())
  }

  reportedHolds(_ds: string, _kind: SlotKind): ReportedHold[] {
    return this.reported
  }

  /**
   * ineligible is production's rule on the fake's data: a Left or unknown member may not
   * hold a slot, nor one whose pods report no copy of ds or a current one. A member with no
   * `pods` at all stands for a host with an outdated copy (most tests need no more).
   */
  ineligible(name: string, keyId: string): string | undefined {
    const m = this.members.find((x) => x.keyId === keyId)
    if (m === undefined || m.state === 'Left') return 'the claimant should not run this DaemonSet'
    if (m.pods === undefined) return undefined
    const pod = m.pods[name]
    if (pod === undefined) return `${m.name} reports no copy to update`
    return pod.revision === this.revision(name) ? `${m.name} already runs the current revision` : undefined
  }

  private lastView: { voters: string; view: string } | undefined

  voterView(self?: string): VoterView {
    const voters = `${this.voters().join(',')}|${this.f}|${this.committeeSize()}`
    if (this.lastView?.voters !== voters) this.lastView = { voters, view: viewOf(this.voters(), this.f, this.committeeSize()).view }
    return {
      onCommittee: (ds) => self === undefined || this.committee(ds).includes(self),
      view: this.lastView.view,
      revision: (name) => this.revision(name),
      limit: (name, kind) => this.limit(name, kind),
      unavailable: (_name, exclude) => this.down + [...this.downHosts].filter((k) => !exclude.has(k)).length,
      ineligible: (name, keyId) => this.ineligible(name, keyId),
    }
  }

  turn(_ds: string, _revision: string, self: string, moving: ReadonlySet<string> = new Set()): number {
    this.movingAsked.push(moving)
    return this.turns[self] ?? 0
  }

  /** head: the members named in `line`, in that order, less those moving (default: no line). */
  head(_ds: string, _revision: string, n: number, moving: ReadonlySet<string> = new Set()): string[] {
    return this.line
      .map((name) => this.members.find((m) => m.name === name)?.keyId)
      .filter((k): k is string => k !== undefined && !moving.has(k))
      .slice(0, n)
  }
}

/** logSink returns a debug-level logger and the lines it wrote, parsed. */
export function logSink(): { log: Logger; lines: Record<string, unknown>[]; msgs: () => string[] } {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  return { log, lines, msgs: () => lines.map((l) => String(l.msg)) }
}

/** recorder returns a send function and the messages it was given, in order; each must pass the wire schema. */
export function recorder(): { send: (msg: LeaseMessage) => Promise<void>; sent: LeaseMessage[] } {
  const sent: LeaseMessage[] = []
  return { send: async (msg) => void sent.push(leaseMessageSchema.parse(msg)), sent }
}

/** seeded returns a deterministic random(n): an integer in [0, n) (mulberry32). */
export function seeded(seed: number): (n: number) => number {
  const random = seededUnit(seed)
  return (n) => Math.floor(random() * n)
}

/** flush lets every queued promise callback run (saves, sends, handlers). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
