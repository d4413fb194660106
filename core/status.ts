// DaemonSet status as Kubernetes reports it, computed by any agent from the DaemonSet
// and the node records (each node reports its own copy). No I/O here.

import { shouldRun } from './eligibility.js'
import { refOf } from './keyspace.js'
import { isAvailable } from './rollout.js'
import { revisionOf } from './revision.js'
import type { NodeRecord, PodStatus } from './node-record.js'
import { nodeInfoOf } from './node-record.js'
import type { DaemonSet } from './types.js'

/** DaemonSetStatus mirrors apps/v1 DaemonSetStatus, plus the pods line of `kubectl describe`. */
export interface DaemonSetStatus {
  desiredNumberScheduled: number
  currentNumberScheduled: number
  numberMisscheduled: number
  numberReady: number
  updatedNumberScheduled: number
  numberAvailable: number
  numberUnavailable: number
  /** Pods by phase: Running / Waiting (Pending) / Succeeded / Failed. */
  pods: { running: number; waiting: number; succeeded: number; failed: number }
  /** The revision hash of the current template. */
  currentRevision: string
}

/**
 * daemonSetStatus counts, over the given member nodes, where the DaemonSet should run,
 * where a copy is, which are ready, up to date and available (minReadySeconds).
 */
export function daemonSetStatus(ds: DaemonSet, nodes: readonly NodeRecord[], now: number): DaemonSetStatus {
  const revision = revisionOf(ds)
  const key = refOf(ds).key
  const s: DaemonSetStatus = {
    desiredNumberScheduled: 0,
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
    updatedNumberScheduled: 0,
    numberAvailable: 0,
    numberUnavailable: 0,
    pods: { running: 0, waiting: 0, succeeded: 0, failed: 0 },
    currentRevision: revision,
  }
  for (const node of nodes) {
    const v = shouldRun(nodeInfoOf(node), ds)
    const pod: PodStatus | undefined = node.pods[key]
    if (pod !== undefined) {
      if (pod.phase === 'Running') s.pods.running++
      else if (pod.phase === 'Pending') s.pods.waiting++
      else if (pod.phase === 'Succeeded') s.pods.succeeded++
      else s.pods.failed++
    }
    if (v.shouldRun) {
      s.desiredNumberScheduled++
      if (pod !== undefined) {
        s.currentNumberScheduled++
        if (pod.ready) s.numberReady++
        if (pod.revision === revision) s.updatedNumberScheduled++
        const available = pod.available ?? isAvailable({ revision: pod.revision, ready: pod.ready, ...(pod.readySince === undefined ? {} : { readySince: pod.readySince }) }, ds.spec.minReadySeconds ?? 0, now)
        if (available) s.numberAvailable++
        else s.numberUnavailable++
      } else {
        s.numberUnavailable++
      }
    } else if (pod !== undefined && !v.shouldContinueRunning) {
      s.numberMisscheduled++
    } else if (pod !== undefined) {
      // A copy that may stay (a NoSchedule taint arrived later) still counts as scheduled.
      s.currentNumberScheduled++
    }
  }
  return s
}
