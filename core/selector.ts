// Label selectors (matchLabels + matchExpressions, ANDed), compiled once and matched
// many times, with every error located by its field path. No I/O here.

import type { FieldIssue } from './errors.js'
import { labelValue, qualifiedName } from './names.js'
import { joinPath } from './path.js'
import type { LabelSelector, LabelSelectorRequirement, StringMap } from './types.js'

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist'])

/** CompiledSelector is an immutable matcher built from a LabelSelector. */
export interface CompiledSelector {
  /** matches reports whether the labels satisfy every requirement. */
  readonly matches: (labels: StringMap | undefined) => boolean
  /** empty is true when the selector selects everything (`{}`). */
  readonly empty: boolean
  /** nothing is true when the selector selects nothing (a null selector). */
  readonly nothing: boolean
  /** text is the selector in kubectl's string form, e.g. `app=fluentd,tier in (a,b)`. */
  readonly text: string
}

/** Requirement is one normalised selector requirement. */
export interface Requirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
  values: string[]
}

/** requirementMatches evaluates one requirement against a label set. */
export function requirementMatches(req: Requirement, labels: StringMap | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, req.key)
  const value = has ? labels[req.key] : undefined
  switch (req.operator) {
    case 'In':
      return has && req.values.includes(value as string)
    case 'NotIn':
      return !has || !req.values.includes(value as string)
    case 'Exists':
      return has
    case 'DoesNotExist':
      return !has
  }
}

/** requirementText renders a requirement as kubectl does. */
export function requirementText(req: Requirement): string {
  switch (req.operator) {
    case 'In':
      return req.values.length === 1 ? `${req.key}=${req.values[0]}` : `${req.key} in (${req.values.join(',')})`
    case 'NotIn':
      return req.values.length === 1 ? `${req.key}!=${req.values[0]}` : `${req.key} notin (${req.values.join(',')})`
    case 'Exists':
      return req.key
    case 'DoesNotExist':
      return `!${req.key}`
  }
}

/** validateLabels checks label keys and values of a map at `path`. */
export function validateLabels(labels: StringMap | undefined, path: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const p of qualifiedName(k)) issues.push({ path: path, message: `Invalid value: "${k}": ${p}` })
    if (typeof v !== 'string') issues.push({ path: joinPath(path, k), message: 'must be a string' })
    else for (const p of labelValue(v)) issues.push({ path: joinPath(path, k), message: `Invalid value: "${v}": ${p}` })
  }
  return issues
}

/** validateRequirement checks one selector requirement at `path`. */
export function validateRequirement(req: LabelSelectorRequirement, path: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  if (typeof req.key !== 'string' || req.key === '') issues.push({ path: joinPath(path, 'key'), message: 'required' })
  else for (const p of qualifiedName(req.key)) issues.push({ path: joinPath(path, 'key'), message: `Invalid value: "${req.key}": ${p}` })
  const values = req.values ?? []
  if (!OPERATORS.has(req.operator)) {
    issues.push({ path: joinPath(path, 'operator'), message: `Unsupported value: "${String(req.operator)}": supported values: "In", "NotIn", "Exists", "DoesNotExist"` })
  } else if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
    issues.push({ path: joinPath(path, 'values'), message: 'Required value: must be specified when `operator` is \'In\' or \'NotIn\'' })
  } else if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
    issues.push({ path: joinPath(path, 'values'), message: 'Forbidden: may not be specified when `operator` is \'Exists\' or \'DoesNotExist\'' })
  }
  values.forEach((v, i) => {
    for (const p of labelValue(v)) issues.push({ path: joinPath(path, 'values', i), message: `Invalid value: "${v}": ${p}` })
  })
  return issues
}

/** requirementsOf normalises a LabelSelector into a sorted list of requirements. */
export function requirementsOf(selector: LabelSelector): Requirement[] {
  const reqs: Requirement[] = []
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) reqs.push({ key, operator: 'In', values: [value] })
  for (const e of selector.matchExpressions ?? []) {
    reqs.push({ key: e.key, operator: e.operator, values: [...(e.values ?? [])].sort() })
  }
  return reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/**
 * compileSelector validates a LabelSelector and returns its matcher and the errors found.
 * As in Kubernetes, a null/undefined selector matches nothing and `{}` matches everything.
 */
export function compileSelector(
  selector: LabelSelector | null | undefined,
  path: string,
): { selector: CompiledSelector; issues: FieldIssue[] } {
  if (selector === null || selector === undefined) {
    return { selector: { matches: () => false, empty: false, nothing: true, text: '<none>' }, issues: [] }
  }
  const issues = validateLabels(selector.matchLabels, joinPath(path, 'matchLabels'))
  ;(selector.matchExpressions ?? []).forEach((req, i) => {
    issues.push(...validateRequirement(req, joinPath(path, 'matchExpressions', i)))
  })
  const reqs = Object.freeze(requirementsOf(selector))
  const compiled: CompiledSelector = Object.freeze({
    matches: (labels: StringMap | undefined) => reqs.every((r) => requirementMatches(r, labels)),
    empty: reqs.length === 0,
    nothing: false,
    text: reqs.length === 0 ? '<none>' : reqs.map(requirementText).join(','),
  })
  return { selector: compiled, issues }
}

/** selectorMatches is a one-shot helper: compile and match (invalid selectors match nothing). */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: StringMap | undefined): boolean {
  const { selector: s, issues } = compileSelector(selector, '')
  return issues.length === 0 && s.matches(labels)
}
