// What the lease reads of the fleet when it decides: the DaemonSet and its revision in the
// store, the voter set (members that have not left), how to reach a member and who is
// behind a peer id, the hosts that should run the DaemonSet, its slot limits, and which
// hosts are already unavailable. LeaseFleet is the seam (tests hand the lease plain data);
// FleetView is the production implementation over Membership and the Store. Reads only:
// never writes, never blocks.

import { shouldRun } from '../../core/eligibility.js'
import { StoreKey, parseDsKey } from '../../core/keyspace.js'
import { DEFAULT_COMMITTEE, DEFAULT_FAULTY_VOTERS, committeeOf, knowsCommittees, releaseRequestSchema, viewOf, type ReleaseRequest, type SlotKind, type VoterView } from '../../core/lease.js'
import { nodeInfoOf, type NodeRecord } from '../../core/node-record.js'
import { revisionOf } from '../../core/revision.js'
import { byCodeUnit } from '../../core/order.js'
import { rolloutLimits } from '../../core/rollout.js'
import type { DaemonSet } from '../../core/types.js'
import type { Membership, NodeState } from '../membership/membership.js'
import type { Store } from '../store/store.js'

/** LeaseFleet is everything the lease reads of the fleet. Must not block; called on every message and tick. */
export interface LeaseFleet {
  /** daemonSet returns the live DaemonSet `NAMESPACE/NAME`, or undefined (unknown or deleted). */
  daemonSet(ds: string): DaemonSet | undefined
  /** revision returns the DaemonSet's current template revision, or undefined (unknown or deleted). */
  revision(ds: string): string | undefined
  /** voters returns the key ids of the voter set: every member that has not left. */
  voters(): string[]
  /** record returns a member's last node record, or undefined. */
  record(keyId: string): NodeRecord | undefined
  /** isMember reports whether a key has a node record (only members vote or claim). */
  isMember(keyId: string): boolean
  /** nameOf returns a member's node name, or undefined when it has none. */
  nameOf(keyId: string): string | undefined
  /** peerOf returns where a member says it can be reached (its record's peer id and addresses), or undefined when it has no record. */
  peerOf(keyId: string): PeerAddress | undefined
  /** limit returns the number of slots of a kind the DaemonSet has (0 for OnDelete or unknown). */
  limit(ds: string, kind: SlotKind): number
  /** voterView returns what SlotTable.claim decides with, as of now, for the voter `self` (a key id). */
  voterView(self: string): VoterView
  /** state returns a member's state (Alive, Unreachable, Left), or undefined when it has no record (never known, or forgotten). */
  state(keyId: string): NodeState | undefined
  /** releaseRequest returns the operator's request to free the update slot `keyId` holds of ds (`rollout release`), or undefined. */
  releaseRequest(ds: string, keyId: string): ReleaseRequest | undefined
  /** faulty is f, the voters that may lie: quorums are ceil((n+f+1)/2) (core/lease.ts quorumOf). */
  faulty(): number
  /** committeeSize is how many voters decide a DaemonSet's slots in a larger fleet (core/lease.ts committeeOf): unbounded while any voter's agent predates committees (knowsCommittees). */
  committeeSize(): number
  /** reportsSlots says whether hosts report the slot they hold in their records: not while any voter's agent predates it (it would refuse such records). */
  reportsSlots(): boolean
  /** committee returns the key ids of the voters that decide ds's slots, as this agent's view has them. */
  committee(ds: string): string[]
  /**
   * reportedHolds returns the slots of ds of `kind` that Alive hosts' records say they hold
   * and are not done with (their record does not yet report an available copy of the current
   * revision): how a host off the committee sees the busy slots and their terms.
   */
  reportedHolds(ds: string, kind: SlotKind): ReportedHold[]
  /** turn returns a host's place, by name, among the Alive hosts still to move `ds` to `revision`, leaving out the key ids in `moving` (hosts holding a slot: they are not waiting); 0 when not among them. */
  turn(ds: string, revision: string, self: string, moving?: ReadonlySet<string>): number
  /** head returns the key ids of the first `n` hosts of that line, in order. */
  head(ds: string, revision: string, n: number, moving?: ReadonlySet<string>): string[]
}

/** ReportedHold is a slot a host's own record says it holds (pods[ds].updateSlot). */
export interface ReportedHold {
  holder: string
  slot: number
  term: number
}

/** PeerAddress is how to reach a member: its libp2p peer id and the addresses its record lists. */
export interface PeerAddress {
  peerId: string
  addresses: readonly string[]
}

/** Host is a member that should run a DaemonSet. */
export interface Host {
  keyId: string
  record: NodeRecord
  state: NodeState
}

/** FleetView is LeaseFleet over this agent's Membership and Store. */
export class FleetView implements LeaseFleet {
  private readonly membership: Pick<Membership, 'nodes' | 'records'>
  private readonly store: Pick<Store, 'map'>
  private readonly f: number
  private readonly size: number
  private readonly admitted: (keyId: string, record: NodeRecord | undefined) => boolean

  /**
   * faulty: the voters a quorum must survive lying (f, core/lease.ts). admitted: node
   * admission (agent/admission.ts); a host not admitted has no vote, no claim, and its
   * reports do not count. committee: the committee size (core/lease.ts committeeOf).
   * Defaults: DEFAULT_FAULTY_VOTERS, every member admitted, DEFAULT_COMMITTEE.
   */
  constructor(
    membership: Pick<Membership, 'nodes' | 'records'>,
    store: Pick<Store, 'map'>,
    opts: { faulty?: number; committee?: number; admitted?: (keyId: string, record: NodeRecord | undefined) => boolean } = {},
  ) {
    this.membership = membership
    this.store = store
    this.f = opts.faulty ?? DEFAULT_FAULTY_VOTERS
    this.size = opts.committee ?? DEFAULT_COMMITTEE
    this.admitted = opts.admitted ?? (() => true)
  }

  faulty(): number {
    return this.f
  }

  committeeSize(): number {
    return this.reportsSlots() ? this.size : Number.MAX_SAFE_INTEGER
  }

  reportsSlots(): boolean {
    return this.membership.nodes().every((n) => n.state === 'Left' || !this.admitted(n.keyId, n.record) || knowsCommittees(n.record.version))
  }

  committee(ds: string): string[] {
    return committeeOf(this.voters(), ds, this.committeeSize())
  }

  reportedHolds(ds: string, kind: SlotKind): ReportedHold[] {
    const d = this.daemonSet(ds)
    if (d === undefined) return []
    const current = revisionOf(d)
    const out: ReportedHold[] = []
    for (const h of this.hosts(d)) {
      const pod = h.record.pods[ds]
      const s = pod?.updateSlot
      if (h.state !== 'Alive' || pod === undefined || s === undefined || s.kind !== kind) continue
      if (pod.revision === current && pod.available === true) continue
      out.push({ holder: h.keyId, slot: s.slot, term: s.term })
    }
    return out
  }

  state(keyId: string): NodeState | undefined {
    return this.membership.nodes().find((n) => n.keyId === keyId)?.state
  }

  releaseRequest(ds: string, keyId: string): ReleaseRequest | undefined {
    const ref = parseDsKey(ds)
    const name = this.nameOf(keyId)
    if (ref === undefined || name === undefined) return undefined
    const r = releaseRequestSchema.safeParse(this.store.map.value(StoreKey.leaseRelease(ref, name)))
    return r.success ? r.data : undefined
  }

  /**
   * ineligible says why `keyId` may not hold a slot of `d`: it is not a member that should
   * run it (Left, or its labels and taints do not match), or its record shows no copy of an
   * older revision (a host with no copy, or a current one, has nothing to take down).
   */
  private ineligible(d: DaemonSet, ds: string, keyId: string): string | undefined {
    const host = this.hosts(d).find((h) => h.keyId === keyId)
    if (host === undefined) return 'the claimant should not run this DaemonSet'
    const pod = host.record.pods[ds]
    if (pod === undefined) return `${host.record.name} reports no copy to update`
    if (pod.revision === revisionOf(d)) return `${host.record.name} already runs the current revision`
    return undefined
  }

  daemonSet(ds: string): DaemonSet | undefined {
    const ref = parseDsKey(ds)
    return ref === undefined ? undefined : (this.store.map.value(StoreKey.daemonSet(ref)) as DaemonSet | undefined)
  }

  revision(ds: string): string | undefined {
    const d = this.daemonSet(ds)
    return d === undefined ? undefined : revisionOf(d)
  }

  voters(): string[] {
    return this.membership
      .nodes()
      .filter((n) => n.state !== 'Left' && this.admitted(n.keyId, n.record))
      .map((n) => n.keyId)
  }

  /** hosts returns the members that should run the DaemonSet. */
  hosts(d: DaemonSet): Host[] {
    return this.membership
      .nodes()
      .filter((n) => n.state !== 'Left' && this.admitted(n.keyId, n.record) && shouldRun(nodeInfoOf(n.record), d).shouldRun)
      .map((n) => ({ keyId: n.keyId, record: n.record, state: n.state }))
  }

  record(keyId: string): NodeRecord | undefined {
    return this.membership.records.value(StoreKey.nodeRecord(keyId)) as NodeRecord | undefined
  }

  isMember(keyId: string): boolean {
    return this.membership.records.get(StoreKey.nodeRecord(keyId)) !== undefined && this.admitted(keyId, this.record(keyId))
  }

  nameOf(keyId: string): string | undefined {
    return this.membership.nodes().find((n) => n.keyId === keyId)?.record.name
  }

  peerOf(keyId: string): PeerAddress | undefined {
    const r = this.record(keyId)
    return r === undefined ? undefined : { peerId: r.peerId, addresses: r.addresses }
  }

  limit(ds: string, kind: SlotKind): number {
    const d = this.daemonSet(ds)
    if (d === undefined || d.spec.updateStrategy?.type === 'OnDelete') return 0
    const l = rolloutLimits(d, this.hosts(d).length)
    return kind === 'surge' ? l.maxSurge : l.maxUnavailable
  }

  voterView(self: string): VoterView {
    const voters = this.voters()
    const size = this.committeeSize()
    const { view } = viewOf(voters, this.f, size)
    return {
      onCommittee: (ds) => voters.length <= size || committeeOf(voters, ds, size).includes(self),
      ineligible: (ds, keyId) => {
        const d = this.daemonSet(ds)
        return d === undefined ? 'unknown DaemonSet' : this.ineligible(d, ds, keyId)
      },
      view,
      revision: (ds) => this.revision(ds),
      limit: (ds, kind) => this.limit(ds, kind),
      // Unreachable hosts are not counted: their state is unknown, they are not down because
      // of this rollout, and they take a slot like anyone when they are back.
      unavailable: (ds, exclude) => {
        const d = this.daemonSet(ds)
        if (d === undefined) return 0
        return this.hosts(d).filter((h) => h.state === 'Alive' && !exclude.has(h.keyId) && h.record.pods[ds]?.ready !== true).length
      },
    }
  }

  turn(ds: string, revision: string, self: string, moving: ReadonlySet<string> = new Set()): number {
    return Math.max(0, this.line(ds, revision, moving).findIndex((h) => h.name === self))
  }

  head(ds: string, revision: string, n: number, moving: ReadonlySet<string> = new Set()): string[] {
    return this.line(ds, revision, moving)
      .slice(0, n)
      .map((h) => h.keyId)
  }

  /** line returns the Alive hosts still to move `ds` to `revision` and not in `moving`, by name (code unit order). */
  private line(ds: string, revision: string, moving: ReadonlySet<string>): { keyId: string; name: string }[] {
    const d = this.daemonSet(ds)
    if (d === undefined) return []
    return this.hosts(d)
      .filter((h) => h.state === 'Alive' && !moving.has(h.keyId) && h.record.pods[ds] !== undefined && h.record.pods[ds]?.revision !== revision)
      .map((h) => ({ keyId: h.keyId, name: h.record.name }))
      .sort((a, b) => byCodeUnit(a.name, b.name))
  }
}
