// Node eligibility: whether a node should run a daemon pod, and whether a running copy
// may stay. Built like Kubernetes' NodeShouldRunDaemonPod from small predicates that
// each return their reasons. No I/O here.

import { nodeSelectorTermsMismatch } from './affinity.js'
import { daemonTolerations, taintText, untolerated } from './taints.js'
import type { DaemonSet, NodeInfo, PodSpec, Taint } from './types.js'

/** Eligibility is the verdict for one (node, DaemonSet) pair. */
export interface Eligibility {
  /** shouldRun: a copy should be placed on the node. */
  shouldRun: boolean
  /** shouldContinueRunning: a copy already there may stay (NoSchedule taints do not evict). */
  shouldContinueRunning: boolean
  /** reasons explains every "no", one line per cause; empty when shouldRun. */
  reasons: string[]
}

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
export function fitsTaints(node: NodeInfo, ds: DaemonSet): { blocking: Taint[]; evicting: Taint[] } {
  const tolerations = daemonTolerations(ds.spec.template.spec, ds.spec.template.metadata?.annotations)
  const blocking = untolerated(node.taints, tolerations, (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
  return { blocking, evicting: blocking.filter((t) => t.effect === 'NoExecute') }
}

/**
 * shouldRun checks whether `node` must run a copy of `ds` (nodeName, nodeSelector,
 * required node affinity, taints against the pod's and the default daemon tolerations;
 * `unschedulable` is ignored) and returns the verdict with a reason for every "no".
 * The DaemonSet must have been defaulted by the manifest parser.
 */
export function shouldRun(node: NodeInfo, ds: DaemonSet): Eligibility {
  const spec = ds.spec.template.spec
  const placement = [...fitsNodeName(node, spec), ...fitsNodeSelector(node, spec), ...fitsNodeAffinity(node, spec)]
  const { blocking, evicting } = fitsTaints(node, ds)
  const taintReasons = blocking.map((t) => `taint ${taintText(t)} is not tolerated`)
  const reasons = [...placement, ...taintReasons]
  if (placement.length > 0) return { shouldRun: false, shouldContinueRunning: false, reasons }
  if (blocking.length > 0) return { shouldRun: false, shouldContinueRunning: evicting.length === 0, reasons }
  return { shouldRun: true, shouldContinueRunning: true, reasons: [] }
}
