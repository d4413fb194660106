// Rollout arithmetic and readiness, defined once: maxUnavailable / maxSurge resolved
// against the desired count as Kubernetes' DaemonSet controller does, when a copy is ready,
// and when it is available (ready for minReadySeconds). Which host moves when is decided by
// the lease (agent/lease) and this host's part of it by core/pass.ts. Pure: the caller
// supplies the copies and the time.

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

/** isAvailable: ready for at least minReadySeconds (Kubernetes' IsPodAvailable). */
export function isAvailable(pod: PodState, minReadySeconds: number, now: number): boolean {
  if (!pod.ready) return false
  if (minReadySeconds <= 0 || pod.readySince === undefined) return true
  return pod.readySince + minReadySeconds * 1000 <= now
}

/** ContainerReadiness is what readiness needs of one container of a copy. */
export interface ContainerReadiness {
  running: boolean
  /** Passes its readiness check (true when it has none). */
  probeReady: boolean
}

/** copyReady says whether a copy is ready: it has containers, and every one runs and passes its readiness check. */
export function copyReady(containers: readonly ContainerReadiness[]): boolean {
  return containers.length > 0 && containers.every((c) => c.running && c.probeReady)
}

/**
 * availableIn returns how many ms remain until a copy ready since `readySince` has been
 * ready for minReadySeconds (0 or less: available now). Times are on one clock, the
 * host's monotonic one when the host judges its own copy.
 */
export function availableIn(readySince: number, minReadySeconds: number, now: number): number {
  return readySince + minReadySeconds * 1000 - now
}
