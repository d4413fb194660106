// Rollout arithmetic: maxUnavailable / maxSurge resolved against the desired count, and
// which nodes may move to the new revision now, as Kubernetes' DaemonSet controller
// decides it (rollingUpdate in pkg/controller/daemon/update.go). Pure: the caller
// supplies every node's observed pods and the time.

import { parseIntOrPercent, scaledValue } from './intstr.js'
import type { DaemonSet } from './types.js'

/** RolloutLimits are the resolved bounds for one DaemonSet and desired count. */
export interface RolloutLimits {
  maxUnavailable: number
  maxSurge: number
}

/**
 * rolloutLimits resolves maxUnavailable and maxSurge against `desired` (percentages round
 * up, as Kubernetes does). Both zero — which validation rejects — falls back to
 * maxUnavailable 1, as Kubernetes does for an impossible configuration.
 */
export function rolloutLimits(ds: DaemonSet, desired: number): RolloutLimits {
  const ru = ds.spec.updateStrategy?.rollingUpdate
  const mu = parseIntOrPercent(ru?.maxUnavailable ?? 1)
  const ms = parseIntOrPercent(ru?.maxSurge ?? 0)
  let maxUnavailable = mu === undefined ? 1 : scaledValue(mu, desired, true)
  const maxSurge = ms === undefined ? 0 : scaledValue(ms, desired, true)
  if (maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1
  return { maxUnavailable, maxSurge }
}

/** PodState is what rollout needs to know of one copy on a node. */
export interface PodState {
  revision: string
  /** Running and passing its readiness probe. */
  ready: boolean
  /**
   * When it last became ready (ms since epoch), for minReadySeconds. Unknown counts as
   * ready long enough: treating it as unavailable would let the rollout replace it freely.
   */
  readySince?: number
}

/** NodePods lists one node's copies of the DaemonSet (normally zero or one, two while surging). */
export interface NodePods {
  node: string
  pods: PodState[]
}

/** isAvailable: ready for at least minReadySeconds (Kubernetes' IsPodAvailable). */
export function isAvailable(pod: PodState, minReadySeconds: number, now: number): boolean {
  if (!pod.ready) return false
  if (minReadySeconds <= 0 || pod.readySince === undefined) return true
  return pod.readySince + minReadySeconds * 1000 <= now
}

/** RolloutStep says which nodes may act now. */
export interface RolloutStep {
  /** Nodes whose old-revision copy may be stopped now. */
  stopOld: string[]
  /** Nodes that may start a new-revision copy beside the old one (surge). */
  startNew: string[]
  /** Nodes counted unavailable (no available copy) in this step's accounting. */
  unavailable: number
  /** Nodes with a surged copy not yet available. */
  surging: number
  /** Every node runs exactly one available copy of `revision`. */
  done: boolean
}

function split(pods: PodState[], revision: string): { newPod?: PodState; oldPod?: PodState; ok: boolean } {
  const fresh = pods.filter((p) => p.revision === revision)
  const old = pods.filter((p) => p.revision !== revision)
  if (fresh.length > 1 || old.length > 1) return { ok: false }
  return { ok: true, ...(fresh[0] === undefined ? {} : { newPod: fresh[0] }), ...(old[0] === undefined ? {} : { oldPod: old[0] }) }
}

/**
 * planRollout decides, for the nodes that should run the DaemonSet, which may replace
 * their old copy now without more than maxUnavailable nodes lacking an available copy
 * (maxSurge 0), or which may start a new copy beside the old one without more than
 * maxSurge surging at once (maxSurge > 0). Old copies that are already unavailable may
 * always be replaced. `nodes` must be in a stable order (for instance by name) so that
 * every agent computes the same step.
 */
export function planRollout(ds: DaemonSet, revision: string, nodes: readonly NodePods[], now: number): RolloutStep {
  const { maxUnavailable, maxSurge } = rolloutLimits(ds, nodes.length)
  const minReady = ds.spec.minReadySeconds ?? 0
  const avail = (p: PodState): boolean => isAvailable(p, minReady, now)
  let unavailable = 0
  let surging = 0
  let done = true
  const allowed: string[] = []
  const candidates: string[] = []
  const stopOld: string[] = []

  for (const { node, pods } of nodes) {
    const { newPod, oldPod, ok } = split(pods, revision)
    if (!ok || oldPod !== undefined || newPod === undefined || !avail(newPod)) done = false
    if (maxSurge === 0) {
      if (!ok || (oldPod === undefined && newPod === undefined) || (oldPod !== undefined && newPod !== undefined)) unavailable++
      else if (newPod !== undefined) {
        if (!avail(newPod)) unavailable++
      } else if (oldPod !== undefined) {
        if (!avail(oldPod)) allowed.push(node)
        else if (unavailable < maxUnavailable) candidates.push(node)
      }
    } else {
      if (!ok) {
        surging++
        continue
      }
      if (oldPod === undefined) {
        if (newPod === undefined || !avail(newPod)) unavailable++
      } else if (newPod === undefined) {
        if (!avail(oldPod)) allowed.push(node)
        else if (surging < maxSurge) candidates.push(node)
      } else if (!avail(newPod)) {
        surging++
      } else {
        stopOld.push(node)
      }
    }
  }
  if (maxSurge === 0) {
    const room = Math.min(Math.max(maxUnavailable - unavailable, 0), candidates.length)
    return { stopOld: [...allowed, ...candidates.slice(0, room)], startNew: [], unavailable, surging: 0, done }
  }
  const room = Math.min(Math.max(maxSurge - surging, 0), candidates.length)
  return { stopOld, startNew: [...allowed, ...candidates.slice(0, room)], unavailable, surging, done }
}
