// What a voter (and a claimant) knows of the fleet when the lease decides: the DaemonSet
// and its revision in the store, the voter set (members that have not left), the hosts
// that should run the DaemonSet, its slot limits, and which hosts are already unavailable.
// Reads only; never blocks.

import { shouldRun } from '../../core/eligibility.js'
import { viewOf, type SlotKind, type VoterView } from '../../core/lease.js'
import { nodeInfoOf, type NodeRecord } from '../../core/node-record.js'
import { revisionOf } from '../../core/revision.js'
import { rolloutLimits } from '../../core/rollout.js'
import type { DaemonSet } from '../../core/types.js'
import type { Membership, NodeState } from '../membership/membership.js'
import type { Store } from '../store/store.js'

/** Host is a member that should run a DaemonSet. */
export interface Host {
  keyId: string
  record: NodeRecord
  state: NodeState
}

export class FleetView {
  private readonly membership: Membership
  private readonly store: Store

  constructor(membership: Membership, store: Store) {
    this.membership = membership
    this.store = store
  }

  /** daemonSet returns the live DaemonSet `NAMESPACE/NAME`, or undefined. */
  daemonSet(ds: string): DaemonSet | undefined {
    return this.store.map.value(`ds/${ds}`) as DaemonSet | undefined
  }

  /** voters are the key ids of every member that has not left (Alive and Unreachable). */
  voters(): string[] {
    return this.membership.nodes().filter((n) => n.state !== 'Left').map((n) => n.keyId)
  }

  /** hosts lists the members that should run the DaemonSet. */
  hosts(d: DaemonSet): Host[] {
    return this.membership
      .nodes()
      .filter((n) => n.state !== 'Left' && shouldRun(nodeInfoOf(n.record), d).shouldRun)
      .map((n) => ({ keyId: n.keyId, record: n.record, state: n.state }))
  }

  /** record returns a member's last node record. */
  record(keyId: string): NodeRecord | undefined {
    return this.membership.records.value(`node/${keyId}`) as NodeRecord | undefined
  }

  /** limit is the number of slots of a kind, over the hosts that should run the DaemonSet (0 for OnDelete). */
  limit(ds: string, kind: SlotKind): number {
    const d = this.daemonSet(ds)
    if (d === undefined || d.spec.updateStrategy?.type === 'OnDelete') return 0
    const l = rolloutLimits(d, this.hosts(d).length)
    return kind === 'surge' ? l.maxSurge : l.maxUnavailable
  }

  /** voterView is what SlotTable.claim decides with, as of now. */
  voterView(): VoterView {
    const { view } = viewOf(this.voters())
    return {
      view,
      revision: (ds) => {
        const d = this.daemonSet(ds)
        return d === undefined ? undefined : revisionOf(d)
      },
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

  /** turn is a host's place, by name, among the Alive hosts still to move `ds` to `revision`. */
  turn(ds: string, revision: string, self: string): number {
    const d = this.daemonSet(ds)
    if (d === undefined) return 0
    const waiting = this.hosts(d)
      .filter((h) => h.state === 'Alive' && h.record.pods[ds] !== undefined && h.record.pods[ds]?.revision !== revision)
      .map((h) => h.record.name)
      .sort()
    return Math.max(0, waiting.indexOf(self))
  }
}
