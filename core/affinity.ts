// Required node affinity (nodeSelectorTerms ORed, requirements ANDed; In, NotIn, Exists,
// DoesNotExist, Gt, Lt; matchFields on metadata.name). No I/O here.

import type { FieldIssue } from './errors.js'
import { labelValue, qualifiedName } from './names.js'
import { joinPath } from './path.js'
import type { NodeInfo, NodeSelectorRequirement, NodeSelectorTerm } from './types.js'

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'])
const INTEGER = /^[+-]?[0-9]+$/

/** evalNodeRequirement returns undefined when `value` (absent when undefined) satisfies req, else why not. */
function evalRequirement(req: NodeSelectorRequirement, what: string, value: string | undefined): string | undefined {
  const values = req.values ?? []
  const shown = value === undefined ? `${what} ${req.key} is not set` : `${what} ${req.key}=${value}`
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value) ? undefined : `${shown}, want one of [${values.join(', ')}]`
    case 'NotIn':
      return value === undefined || !values.includes(value) ? undefined : `${shown}, want none of [${values.join(', ')}]`
    case 'Exists':
      return value !== undefined ? undefined : `${what} ${req.key} is not set, want it present`
    case 'DoesNotExist':
      return value === undefined ? undefined : `${shown}, want it absent`
    case 'Gt':
    case 'Lt': {
      const bound = Number(values[0])
      if (value === undefined) return `${shown}, want ${req.operator === 'Gt' ? '>' : '<'} ${values[0]}`
      if (!INTEGER.test(value)) return `${shown} is not an integer, want ${req.operator === 'Gt' ? '>' : '<'} ${values[0]}`
      const n = Number(value)
      const ok = req.operator === 'Gt' ? n > bound : n < bound
      return ok ? undefined : `${shown}, want ${req.operator === 'Gt' ? '>' : '<'} ${values[0]}`
    }
  }
}

/** termMismatches returns why a node fails one term (empty when it matches). An empty term matches nothing. */
export function termMismatches(term: NodeSelectorTerm, node: NodeInfo): string[] {
  const exprs = term.matchExpressions ?? []
  const fields = term.matchFields ?? []
  if (exprs.length === 0 && fields.length === 0) return ['empty term matches no node']
  const out: string[] = []
  for (const req of exprs) {
    const why = evalRequirement(req, 'label', Object.hasOwn(node.labels, req.key) ? node.labels[req.key] : undefined)
    if (why !== undefined) out.push(why)
  }
  for (const req of fields) {
    const why = evalRequirement(req, 'field', req.key === 'metadata.name' ? node.name : undefined)
    if (why !== undefined) out.push(why)
  }
  return out
}

/** validateNodeRequirement checks one requirement; `field` is true under matchFields. */
function validateNodeRequirement(req: NodeSelectorRequirement, path: string, field: boolean): FieldIssue[] {
  const issues: FieldIssue[] = []
  const values = req.values ?? []
  if (typeof req.key !== 'string' || req.key === '') issues.push({ path: joinPath(path, 'key'), message: 'required' })
  else if (field && req.key !== 'metadata.name') issues.push({ path: joinPath(path, 'key'), message: `Unsupported value: "${req.key}": supported values: "metadata.name"` })
  else if (!field) for (const p of qualifiedName(req.key)) issues.push({ path: joinPath(path, 'key'), message: `Invalid value: "${req.key}": ${p}` })
  if (!OPERATORS.has(req.operator)) {
    issues.push({ path: joinPath(path, 'operator'), message: `Unsupported value: "${String(req.operator)}": supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"` })
    return issues
  }
  if (field && req.operator !== 'In' && req.operator !== 'NotIn') {
    issues.push({ path: joinPath(path, 'operator'), message: `Invalid value: "${req.operator}": not a valid selector operator for matchFields` })
  }
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) issues.push({ path: joinPath(path, 'values'), message: "Required value: must be specified when `operator` is 'In' or 'NotIn'" })
      else if (field && values.length !== 1) issues.push({ path: joinPath(path, 'values'), message: 'Required value: must be only one value when `operator` is \'In\' or \'NotIn\' for node field selector' })
      break
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) issues.push({ path: joinPath(path, 'values'), message: "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'" })
      break
    case 'Gt':
    case 'Lt':
      if (values.length !== 1 || !INTEGER.test(values[0] ?? '')) issues.push({ path: joinPath(path, 'values'), message: "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'" })
      break
  }
  if (!field && (req.operator === 'In' || req.operator === 'NotIn')) {
    values.forEach((v, i) => {
      for (const p of labelValue(v)) issues.push({ path: joinPath(path, 'values', i), message: `Invalid value: "${v}": ${p}` })
    })
  }
  return issues
}

/** validateNodeSelectorTerms checks `nodeSelectorTerms` at `path` (it must be non-empty). */
export function validateNodeSelectorTerms(terms: NodeSelectorTerm[] | undefined, path: string): FieldIssue[] {
  if (!Array.isArray(terms) || terms.length === 0) return [{ path, message: 'Required value: must have at least one node selector term' }]
  const issues: FieldIssue[] = []
  terms.forEach((term, i) => {
    ;(term.matchExpressions ?? []).forEach((req, j) => issues.push(...validateNodeRequirement(req, joinPath(path, i, 'matchExpressions', j), false)))
    ;(term.matchFields ?? []).forEach((req, j) => issues.push(...validateNodeRequirement(req, joinPath(path, i, 'matchFields', j), true)))
  })
  return issues
}

/** nodeSelectorTermsMismatch returns undefined when any term matches the node, else why none does. */
export function nodeSelectorTermsMismatch(terms: readonly NodeSelectorTerm[], node: NodeInfo): string | undefined {
  const whys: string[] = []
  for (const [i, term] of terms.entries()) {
    const why = termMismatches(term, node)
    if (why.length === 0) return undefined
    whys.push(terms.length === 1 ? why.join('; ') : `term ${i}: ${why.join('; ')}`)
  }
  return whys.join(' | ')
}
