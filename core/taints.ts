// Taints and tolerations as Kubernetes matches them, and the tolerations every daemon
// pod gets by default. No I/O here.

import type { FieldIssue } from './errors.js'
import { labelValue, qualifiedName } from './names.js'
import { joinPath } from './path.js'
import type { PodSpec, StringMap, Taint, TaintEffect, Toleration } from './types.js'

export const TAINT_EFFECTS: readonly TaintEffect[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute']

/** Well-known taint keys (node lifecycle and the legacy alpha names from the seeds). */
export const TaintKeys = {
  notReady: 'node.kubernetes.io/not-ready',
  unreachable: 'node.kubernetes.io/unreachable',
  diskPressure: 'node.kubernetes.io/disk-pressure',
  memoryPressure: 'node.kubernetes.io/memory-pressure',
  pidPressure: 'node.kubernetes.io/pid-pressure',
  unschedulable: 'node.kubernetes.io/unschedulable',
  networkUnavailable: 'node.kubernetes.io/network-unavailable',
  legacyNotReady: 'node.alpha.kubernetes.io/notReady',
  legacyUnreachable: 'node.alpha.kubernetes.io/unreachable',
  legacyMemoryPressure: 'node.alpha.kubernetes.io/memoryPressure',
  legacyDiskPressure: 'node.alpha.kubernetes.io/diskPressure',
  legacyOutOfDisk: 'node.alpha.kubernetes.io/outOfDisk',
} as const

const CRITICAL_POD_ANNOTATION = 'scheduler.alpha.kubernetes.io/critical-pod'

/** tolerates reports whether one toleration tolerates one taint (Kubernetes' ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false
  if (t.key !== undefined && t.key !== '' && t.key !== taint.key) return false
  if (t.operator === 'Exists') return true
  return (t.value ?? '') === (taint.value ?? '')
}

/** untolerated returns the taints, among those `filter` keeps, that no toleration tolerates. */
export function untolerated(taints: readonly Taint[], tolerations: readonly Toleration[], filter: (t: Taint) => boolean): Taint[] {
  return taints.filter((taint) => filter(taint) && !tolerations.some((t) => tolerates(t, taint)))
}

/** taintText renders a taint as kubectl does: `key=value:Effect` or `key:Effect`. */
export function taintText(taint: Taint): string {
  return taint.value === undefined || taint.value === '' ? `${taint.key}:${taint.effect}` : `${taint.key}=${taint.value}:${taint.effect}`
}

/**
 * daemonTolerations returns the pod's own tolerations plus those the DaemonSet controller
 * adds to every daemon pod: not-ready and unreachable (NoExecute), disk/memory/pid pressure
 * and unschedulable (NoSchedule), network-unavailable for hostNetwork pods, the legacy
 * `node.alpha.kubernetes.io/*` NoExecute names, and outOfDisk for critical pods.
 */
export function daemonTolerations(spec: PodSpec, annotations?: StringMap): Toleration[] {
  const out: Toleration[] = [...(spec.tolerations ?? [])]
  const add = (key: string, effect: TaintEffect): void => {
    out.push({ key, operator: 'Exists', effect })
  }
  add(TaintKeys.notReady, 'NoExecute')
  add(TaintKeys.unreachable, 'NoExecute')
  add(TaintKeys.diskPressure, 'NoSchedule')
  add(TaintKeys.memoryPressure, 'NoSchedule')
  add(TaintKeys.pidPressure, 'NoSchedule')
  add(TaintKeys.unschedulable, 'NoSchedule')
  if (spec.hostNetwork === true) add(TaintKeys.networkUnavailable, 'NoSchedule')
  add(TaintKeys.legacyNotReady, 'NoExecute')
  add(TaintKeys.legacyUnreachable, 'NoExecute')
  add(TaintKeys.legacyMemoryPressure, 'NoExecute')
  add(TaintKeys.legacyDiskPressure, 'NoExecute')
  if (annotations?.[CRITICAL_POD_ANNOTATION] !== undefined) add(TaintKeys.legacyOutOfDisk, 'NoExecute')
  return out
}

/** validateToleration checks one toleration at `path` as Kubernetes does. */
export function validateToleration(t: Toleration, path: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  const key = t.key ?? ''
  if (key !== '') for (const p of qualifiedName(key)) issues.push({ path: joinPath(path, 'key'), message: `Invalid value: "${key}": ${p}` })
  const op = t.operator ?? 'Equal'
  if (op === 'Equal') {
    if (key === '') issues.push({ path: joinPath(path, 'operator'), message: `Invalid value: "Equal": operator must be Exists when \`key\` is empty, which means "match all values and all keys"` })
    if (t.value !== undefined && t.value !== '') for (const p of labelValue(t.value)) issues.push({ path: joinPath(path, 'value'), message: `Invalid value: "${t.value}": ${p}` })
  } else if (op === 'Exists') {
    if (t.value !== undefined && t.value !== '') issues.push({ path: joinPath(path, 'value'), message: `Invalid value: "${t.value}": value must be empty when \`operator\` is 'Exists'` })
  } else {
    issues.push({ path: joinPath(path, 'operator'), message: `Unsupported value: "${String(op)}": supported values: "Equal", "Exists"` })
  }
  if (t.effect !== undefined && t.effect !== '' && !TAINT_EFFECTS.includes(t.effect)) {
    issues.push({ path: joinPath(path, 'effect'), message: `Unsupported value: "${String(t.effect)}": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"` })
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    issues.push({ path: joinPath(path, 'effect'), message: `Invalid value: "${t.effect ?? ''}": effect must be 'NoExecute' when \`tolerationSeconds\` is set` })
  }
  return issues
}

/** validateTaint checks one node taint at `path`. */
export function validateTaint(taint: Taint, path: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  if (typeof taint.key !== 'string' || taint.key === '') issues.push({ path: joinPath(path, 'key'), message: 'required' })
  else for (const p of qualifiedName(taint.key)) issues.push({ path: joinPath(path, 'key'), message: `Invalid value: "${taint.key}": ${p}` })
  if (taint.value !== undefined && taint.value !== '') for (const p of labelValue(taint.value)) issues.push({ path: joinPath(path, 'value'), message: `Invalid value: "${taint.value}": ${p}` })
  if (!TAINT_EFFECTS.includes(taint.effect)) {
    issues.push({ path: joinPath(path, 'effect'), message: `Unsupported value: "${String(taint.effect)}": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"` })
  }
  return issues
}

/**
 * parseTaint reads kubectl's taint syntax `key[=value]:Effect` and returns the taint, or
 * the problems found.
 */
export function parseTaint(text: string): { taint?: Taint; issues: FieldIssue[] } {
  const colon = text.lastIndexOf(':')
  if (colon <= 0) return { issues: [{ path: '', message: `invalid taint "${text}": expected key[=value]:Effect` }] }
  const effect = text.slice(colon + 1) as TaintEffect
  const kv = text.slice(0, colon)
  const eq = kv.indexOf('=')
  const taint: Taint = eq < 0 ? { key: kv, effect } : { key: kv.slice(0, eq), value: kv.slice(eq + 1), effect }
  const issues = validateTaint(taint, '').map((i) => ({ path: '', message: `invalid taint "${text}": ${i.path === '' ? '' : i.path + ' '}${i.message}` }))
  return issues.length > 0 ? { issues } : { taint, issues }
}
