// What the reconciler needs of the rest of the agent, as narrow interfaces: this node's
// record (membership) and the rolling-update lease (its claimant). Types only.

import type { PodEvent } from '../../core/events.js'
import type { NodeRecord, PodStatus, WorkerStatus } from '../../core/node-record.js'
import type { SlotKind } from '../../core/lease.js'
import type { SlotAnswer } from '../../core/pass.js'
import type { NodeCondition } from '../../core/types.js'

/** SelfNode is this node's record, as the reconciler reads and reports it. */
export interface SelfNode {
  self(): NodeRecord
  /** setPods reports the copies here, what the busy pod workers are doing (by DaemonSet key form) and the recent events. */
  setPods(pods: Record<string, PodStatus>, workers: Record<string, WorkerStatus>, events: PodEvent[]): void
  setConditions(conditions: NodeCondition[]): void
}

/** SlotGate is the rolling-update lease as the reconciler uses it (agent/lease's claimant). */
export interface SlotGate {
  /** status is a pure query: the lease's answer for a DaemonSet (key form). */
  status(ds: string): SlotAnswer
  claim(ds: string, revision: string, kind: SlotKind): void
  /** enter is the fence check right before acting under a slot. */
  enter(ds: string): boolean
  release(ds: string): void
}

