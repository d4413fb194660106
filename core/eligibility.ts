// Node eligibility: whether a node should run a daemon pod, and whether a running copy
// may stay. Built like Kubernetes' NodeShouldRunDaemonPod from small predicates that
// each return their reasons. No I/O here.

import { nodeSelectorTermsMismatch } from './affinity.js'
import { daemonTolerations, taintText, tolerates, untolerated } from './taints.js'
import type { DaemonSet, NodeInfo, PodSpec, Taint } from './types.js'

/** Eligibility is the verdict for one (node, DaemonSet) pair. */
export interface Eligibility {
  /** shouldRun: a copy should be placed on the node. */
  shouldRun: boolean
  /** shouldContinueRunning: a copy already there may stay (NoSchedule taints do not evict). */
  shouldContinueRunning: boolean
  /** reasons explains every "no", one line per cause; empty when shouldRun. */
  reasons: string[]
  /** A NoExecute taint is tolerated only for a while (tolerationSeconds): the copy is evicted in this many ms. */
  evictInMs?: number
}

/**
 * TaintAge says how long (ms) a taint of the node has been seen, on the caller's clock;
 * undefined when it does not know (the taint is then tolerated as long as a toleration
 * matches, whatever its tolerationSeconds).
 */
export type TaintAge = (t: Taint) => number | undefined

/** fitsNodeName returns why the node is not the pod's fixed `nodeName` (empty when it fits). */
export function fitsNodeName(node: NodeInfo, spec: PodSpec): string[] {
  if (spec.nodeName === undefined || spec.nodeName === '' || spec.nodeName === node.name) return []
  return [`spec.template.spec.nodeName is ${spec.nodeName}`]
}

/** fitsNodeSelector returns every nodeSelector label the node lacks or has with another value. */
export function fitsNodeSelector(node: NodeInfo, spec: PodSpec): string[] {
  const out: string[] = []
  for (const [key, want] of Object.entries(spec.nodeSelector ?? {})) {
    if (!Object.hasOwn(node.labels, key)) out.push(`nodeSelector: node lacks label ${key}=${want}`)
    else if (node.labels[key] !== want) out.push(`nodeSelector: node has label ${key}=${node.labels[key]}, want ${key}=${want}`)
  }
  return out
}

/** fitsNodeAffinity returns why required node affinity rejects the node (empty when it fits). */
export function fitsNodeAffinity(node: NodeInfo, spec: PodSpec): string[] {
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
  if (terms === undefined) return []
  const why = nodeSelectorTermsMismatch(terms, node)
  return why === undefined ? [] : [`nodeAffinity: ${why}`]
}

/**
 * fitsTaints returns the untolerated taints that block placement (NoSchedule and
 * NoExecute; PreferNoSchedule is ignored for DaemonSets) and, among them, those that
 * evict a running copy (NoExecute).
 */
export function fitsTaints(node: NodeInfo, ds: DaemonSet, age?: TaintAge): { blocking: Taint[]; evicting: Taint[]; expired: Taint[]; evictInMs?: number } {
  const tolerations = daemonTolerations(ds.spec.template.spec, ds.spec.template.metadata?.annotations)
  const blocking = untolerated(node.taints, tolerations, (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
  // A NoExecute taint tolerated only by tolerations with tolerationSeconds evicts once the shortest has passed (the taint manager's rule).
  const expired: Taint[] = []
  let evictInMs: number | undefined
  for (const taint of node.taints) {
    if (taint.effect !== 'NoExecute' || blocking.includes(taint)) continue
    const matching = tolerations.filter((t) => tolerates(t, taint))
    if (matching.some((t) => t.tolerationSeconds === undefined)) continue
    const seen = age?.(taint)
    if (seen === undefined) continue
    const left = Math.max(0, Math.min(...matching.map((t) => t.tolerationSeconds ?? 0))) * 1000 - seen
    if (left <= 0) expired.push(taint)
    else evictInMs = Math.min(evictInMs ?? left, left)
  }
  return { blocking: [...blocking, ...expired], evicting: [...blocking.filter((t) => t.effect === 'NoExecute'), ...expired], expired, ...(evictInMs === undefined ? {} : { evictInMs }) }
}

/**
 * shouldRun checks whether `node` must run a copy of `ds` (nodeName, nodeSelector,
 * required node affinity, taints against the pod's and the default daemon tolerations;
 * `unschedulable` is ignored) and returns the verdict with a reason for every "no".
 * The DaemonSet must have been defaulted by the manifest parser.
 */
export function shouldRun(node: NodeInfo, ds: DaemonSet, age?: TaintAge): Eligibility {
  const spec = ds.spec.template.spec
  const placement = [...fitsNodeName(node, spec), ...fitsNodeSelector(node, spec), ...fitsNodeAffinity(node, spec)]
  const { blocking, evicting, expired, evictInMs } = fitsTaints(node, ds, age)
  const taintReasons = blocking.map((t) => (expired.includes(t) ? `taint ${taintText(t)} was tolerated for its tolerationSeconds only` : `taint ${taintText(t)} is not tolerated`))
  const reasons = [...placement, ...taintReasons]
  if (placement.length > 0) return { shouldRun: false, shouldContinueRunning: false, reasons }
  if (blocking.length > 0) return { shouldRun: false, shouldContinueRunning: evicting.length === 0, reasons }
  return { shouldRun: true, shouldContinueRunning: true, reasons: [], ...(evictInMs === undefined ? {} : { evictInMs }) }
}
