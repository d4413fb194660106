// The vocabulary of one reconcile pass (pass.ts): what the reconciler observed and hands
// in (PassInput, Wanted, the lease's SlotAnswer, failures and crashes), and what the pass
// decides (PassPlan and its Actions). Types only.

import type { PodPlan } from './container-spec.js'
import type { DsRef } from './keyspace.js'
import type { SlotKind } from './lease.js'
import type { PodStatus } from './node-record.js'
import type { ObservedContainer, Removal } from './reconcile.js'
import type { DaemonSet } from './types.js'

/** SlotAnswer is the rollout lease's answer for one DaemonSet, as observed at the start of the pass. */
export type SlotAnswer =
  | { phase: 'idle' }
  /** claiming: a claim of this host's awaits its answer; otherwise it waits for its turn or for a slot to free. */
  | { phase: 'waiting'; why: string; claiming?: boolean }
  | { phase: 'granted'; term: number; kind?: SlotKind; slot?: number }
  | { phase: 'acting'; term: number; kind?: SlotKind; slot?: number }

/** Wanted is one live DaemonSet and what this host should do with it. */
export interface Wanted {
  ref: DsRef
  ds: DaemonSet
  /** The pod this host would run at the current revision. */
  plan: PodPlan
  revision: string
  /** shouldRun: place a copy here. */
  run: boolean
  /** shouldContinueRunning: a copy already here may stay. */
  keep: boolean
  /** The DaemonSet's selector, to adopt orphaned copies. */
  selects: (labels: Record<string, string>) => boolean
  /** The workload policy rules it breaks here (core/policy.ts); run and keep are then false. */
  denied?: readonly string[]
  /** A NoExecute taint is tolerated for a while only: look again in this many ms (the copy is evicted then). */
  evictInMs?: number
  /** Why a copy here is evicted (a NoExecute taint's tolerationSeconds passed), when it is. */
  evicted?: string
}

/** ObservedState is what Docker says of one container beyond the listing. */
export interface ObservedState {
  status: string
  restarts: number
  /** Wall ms of its last start (0: never started). */
  startedAt: number
  error: string
  /** Its stop timeout (the grace period it was created with), seconds. */
  stopTimeout?: number
}

/** DeleteRequest is an operator's request (`delete pod`) to delete this host's copy of a DaemonSet. */
export interface DeleteRequest {
  /** Identifies the request (key@hlc) so that it is carried out once. */
  id: string
  revision: string
  since: number
}

/** Failure is a pull, start or stop that failed, backed off until `until`. */
export interface Failure {
  error: string
  until: number
  delay: number
  /** The step that failed (absent: a pull or a start). A stop that failed holds back the copy's removals too. */
  during?: 'pull' | 'start' | 'stop'
  /** Wall ms when it failed (for the node record). */
  at?: number
  /** What the pod lacked when its start failed (ConfigMaps, Secrets, their keys), when it lacked anything: the start is tried again once that changes. */
  lacked?: string
}

/**
 * Crash is a copy whose container the agent restarted because a probe said it was unhealthy
 * (liveness or startup): it is not started again before `until` (the kubelet's
 * CrashLoopBackOff, 10 s doubling to 5 min).
 */
export interface Crash {
  until: number
  delay: number
  /** Why it was restarted last (`Liveness probe failed: …`). */
  why: string
  /** Monotonic ms of the last restart. */
  at: number
}

/** ProbeState is a container's probe results: readiness, and why it must be restarted. */
export interface ProbeState {
  ready: boolean
  why?: string
  /** Its liveness (or startup) probe failed: restart it. */
  unhealthy?: string
}

/** PassInput is everything one pass decides on: plain data. */
export interface PassInput {
  /** Monotonic now, and when the agent started on the same clock. */
  now: number
  startedAt: number
  /** Wall now, for a copy that never started (its `since`). */
  wallNow: number
  sweepGraceMs: number
  /** Poll period while an update waits (for a slot or for availability). */
  pollMs: number
  wanted: readonly Wanted[]
  /** The DaemonSet (label form) that adopted each orphaned container, by container name, as the last pass found. */
  owners: ReadonlyMap<string, string>
  /** Label forms of DaemonSets deleted (copies go) and deleted with --cascade=orphan (copies stay). */
  deleted: ReadonlySet<string>
  orphaned: ReadonlySet<string>
  /** This node's managed containers as listed. */
  containers: readonly ObservedContainer[]
  /** Inspected state per container name (missing: not inspected or gone). */
  states: ReadonlyMap<string, ObservedState>
  /** Probe results per container name (absent: no probe, ready when running). */
  probes: ReadonlyMap<string, ProbeState>
  /** Copies restarted for a failed probe, in back-off, per DaemonSet label form. */
  crashes: ReadonlyMap<string, Crash>
  /** Copies running their init containers now, with their status (`Init:1/2`), per DaemonSet label form. */
  initializing: ReadonlyMap<string, string>
  /** Restarts the agent made (for failed probes) per container name: RESTARTS adds them to Docker's. */
  restarts: ReadonlyMap<string, number>
  /** When each copy (`NS/NAME@revision`) was first seen ready, monotonic and wall. */
  readySince: ReadonlyMap<string, { mono: number; wall: number }>
  /** Failures being backed off, per DaemonSet label form. */
  failures: ReadonlyMap<string, Failure>
  /** Revisions whose images were pulled for an update (`NS.NAME@revision`). */
  pulled: ReadonlySet<string>
  /** Revisions whose pod was created ahead of its update, or tried (`NS.NAME@revision`): once. */
  prepared: ReadonlySet<string>
  /** The lease's answer per DaemonSet key form. */
  slots: ReadonlyMap<string, SlotAnswer>
  /** Pending delete requests per DaemonSet key form (already carried out ones are left out). */
  deleteRequests: ReadonlyMap<string, DeleteRequest>
  /** What this host reported last, per DaemonSet key form. */
  reported: Readonly<Record<string, PodStatus>>
}

/** Action is one step of the pass, carried out in order. */
export type Action =
  | { do: 'remove'; removals: Removal[] }
  | { do: 'delete-pod'; ref: DsRef; request: string; removals: Removal[] }
  | { do: 'start'; ref: DsRef; plan: PodPlan }
  | { do: 'pull'; ref: DsRef; plan: PodPlan }
  /** Create the update's pod without starting it, while the host waits for its turn: the update then only starts it. */
  | { do: 'prepare'; ref: DsRef; plan: PodPlan }
  | { do: 'claim'; ref: DsRef; revision: string; kind: SlotKind }
  /** Move to the current revision: under a slot of `kind` (fence first), or, with no kind, replace a copy that is not ready. */
  | { do: 'update'; ref: DsRef; plan: PodPlan; kind?: SlotKind; term?: number; stop: Removal[] }
  | { do: 'release'; ref: DsRef }
  /** Restart containers a probe found unhealthy: stop them (preStop first, within the grace); a later start brings them back after the back-off. */
  | { do: 'restart'; ref: DsRef; removals: Removal[]; why: string }

/** PassPlan is what one pass decided. */
export interface PassPlan {
  actions: Action[]
  /** The pods to report in the node record, as observed before acting. */
  report: Record<string, PodStatus>
  /** Why each DaemonSet's update waits, by key form. */
  waiting: Map<string, string>
  /** Look again within this many ms (undefined: no need before the next trigger). */
  recheckMs: number | undefined
  /** The owner of every adopted container (by name): the next pass's `owners`. */
  owners: Map<string, string>
}
