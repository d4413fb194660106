// Kubernetes Node objects (as `kubectl get nodes -o yaml` prints them) -> NodeInfo.
// No I/O here.

import type { FieldIssue } from './errors.js'
import { dns1123Subdomain } from './names.js'
import { joinPath } from './path.js'
import { nodeSchema } from './schema.js'
import { validateLabels } from './selector.js'
import { validateTaint } from './taints.js'
import type { ConditionStatus, NodeInfo, Taint } from './types.js'
import { zodIssues } from './zod-issues.js'

/** nodeFromObject checks a `kind: Node` object and returns its NodeInfo when valid. */
export function nodeFromObject(obj: unknown): { node?: NodeInfo; errors: FieldIssue[]; warnings: FieldIssue[] } {
  const res = nodeSchema.safeParse(obj)
  if (!res.success) {
    const { errors, warnings } = zodIssues(res.error.issues)
    if (errors.length > 0) return { errors, warnings }
  }
  const warnings = res.success ? [] : zodIssues(res.error.issues).warnings
  const raw = obj as {
    metadata: { name: string; labels?: Record<string, string> }
    spec?: { taints?: Taint[]; unschedulable?: boolean }
    status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[]; addresses?: { type: string; address: string }[] }
  }
  const errors: FieldIssue[] = []
  for (const p of dns1123Subdomain(raw.metadata.name)) errors.push({ path: 'metadata.name', message: `Invalid value: "${raw.metadata.name}": ${p}` })
  errors.push(...validateLabels(raw.metadata.labels, 'metadata.labels'))
  const taints = raw.spec?.taints ?? []
  taints.forEach((t, i) => errors.push(...validateTaint(t, joinPath('spec.taints', i))))
  if (errors.length > 0) return { errors, warnings }
  const node: NodeInfo = {
    name: raw.metadata.name,
    labels: { ...(raw.metadata.labels ?? {}) },
    taints: taints.map((t) => ({ key: t.key, ...(t.value === undefined ? {} : { value: t.value }), effect: t.effect })),
    unschedulable: raw.spec?.unschedulable === true,
    conditions: (raw.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status as ConditionStatus })),
    addresses: raw.status?.addresses ?? [],
  }
  return { node, errors: [], warnings }
}
