// Manifests: YAML text (one or more documents, `List`s included) -> validated, defaulted
// DaemonSets and Nodes, and the other objects as found (bundle.ts says what becomes of
// them). Explicit nulls are dropped first, as Kubernetes decodes them. Every problem
// carries its document and field path; unknown fields are warnings. No I/O here: callers
// pass the text and a name for its source.

import { parseAllDocuments, type ScalarTag } from 'yaml'
import type { ZodIssue } from 'zod'
import { parseConfigMap, type ConfigMap } from './configmap.js'
import { parseSecretManifest, type PlainSecret } from './secret.js'
import { applyDefaults } from './defaults.js'
import { ManifestError, ValidationError, formatIssue, type FieldIssue } from './errors.js'
import { dsRef } from './keyspace.js'
import { nodeFromObject } from './nodes.js'
import { joinPath } from './path.js'
import { daemonSetSchema } from './schema.js'
import { DAEMONSET_API_VERSIONS, type DaemonSet, type NodeInfo } from './types.js'
import { validateDaemonSet } from './validate.js'
import { zodIssues } from './zod-issues.js'

/** Document is one object found in a manifest, with what was wrong with it. */
export interface Document {
  /** where: `FILE` plus the document index when the file holds several. */
  where: string
  /** '' when the document has none. */
  apiVersion: string
  /** '' when the document has none; any kind, DaemonSet and Node are the ones checked. */
  kind: string
  /** `NAMESPACE/NAME` for DaemonSets, ConfigMaps and Secrets, `NAME` for nodes, '' when unknown. */
  name: string
  daemonSet?: DaemonSet
  node?: NodeInfo
  configMap?: ConfigMap
  /** A Secret in plaintext, as written: never printed, never stored (the CLI seals it). */
  secret?: PlainSecret
  errors: FieldIssue[]
  warnings: FieldIssue[]
}

/** The maximum number of alias expansions in one document (guards against YAML bombs). */
const MAX_ALIAS_COUNT = 100

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The list kinds whose `items` are required; any other kind ending in `List` is a list when it has `items` (kubectl's rule). */
const LIST_KINDS = new Set(['List', 'DaemonSetList', 'NodeList'])

/** isList says whether a document is a list whose `items` are the objects. */
function isList(kind: string, items: unknown): boolean {
  return LIST_KINDS.has(kind) || (kind.endsWith('List') && Array.isArray(items))
}

/**
 * stripNulls returns a copy of `value` without its explicit nulls, as Kubernetes' JSON
 * decoding reads them (Helm output has `tolerations: null`, `resources: null`):
 *  1. an object field whose value is null is absent, at any depth (maps included: a label
 *     `a: null` is dropped, where Go would keep it as "");
 *  2. a null array element is an error at its path (`...tolerations[0]`); the element is
 *     kept, so the indexes of the others do not move.
 * The input is not changed.
 */
export function stripNulls(value: unknown, path = ''): { value: unknown; errors: FieldIssue[] } {
  const errors: FieldIssue[] = []
  const walk = (v: unknown, at: string): unknown => {
    if (Array.isArray(v)) {
      return v.map((item: unknown, i) => {
        if (item === null) {
          errors.push({ path: joinPath(at, i), message: 'Invalid value: null: a list item may not be null' })
          return null
        }
        return walk(item, joinPath(at, i))
      })
    }
    if (!isObject(v)) return v
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = walk(x, joinPath(at, k))
    return out
  }
  return { value: walk(value, path), errors }
}

/** isUnder says whether `path` is `prefix` or a field or item inside it. */
function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)
}

/** withNullErrors puts the null-item errors first; the errors they cause further down are not repeated. */
function withNullErrors<T extends { errors: FieldIssue[]; warnings: FieldIssue[] }>(r: T, nullErrors: FieldIssue[]): T | { errors: FieldIssue[]; warnings: FieldIssue[] } {
  if (nullErrors.length === 0) return r
  return { errors: [...nullErrors, ...r.errors.filter((e) => !nullErrors.some((n) => isUnder(e.path, n.path)))], warnings: r.warnings }
}

/**
 * parseDaemonSet checks one DaemonSet object (structure, then defaults, then semantics)
 * and returns the defaulted DaemonSet when it has no errors.
 */
export function parseDaemonSet(obj: unknown): { daemonSet?: DaemonSet; errors: FieldIssue[]; warnings: FieldIssue[] } {
  const res = daemonSetSchema.safeParse(obj)
  const { errors, warnings } = res.success ? { errors: [], warnings: [] } : zodIssues(res.error.issues)
  const apiVersion = isObject(obj) ? obj.apiVersion : undefined
  if (typeof apiVersion === 'string' && !(DAEMONSET_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    errors.unshift({ path: 'apiVersion', message: `Unsupported value: "${apiVersion}": supported values: ${DAEMONSET_API_VERSIONS.map((v) => `"${v}"`).join(', ')}` })
  }
  if (errors.length > 0) {
    // Report the semantic problems too, checked on a copy whose broken fields are patched
    // with placeholders, so that one pass shows every error.
    const patched = res.success ? undefined : patchStructure(obj, res.error.issues)
    if (patched !== undefined && typeof apiVersion === 'string' && (DAEMONSET_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      const seen = new Set(errors.map((e) => e.path))
      for (const e of validateDaemonSet(applyDefaults(patched))) if (!seen.has(e.path)) errors.push(e)
    }
    return { errors, warnings }
  }
  const daemonSet = applyDefaults(obj as DaemonSet)
  const semantic = validateDaemonSet(daemonSet)
  return semantic.length > 0 ? { errors: semantic, warnings } : { daemonSet, errors: [], warnings }
}

const PLACEHOLDERS: Record<string, () => unknown> = { string: () => '', number: () => 0, integer: () => 0, boolean: () => false, array: () => [], object: () => ({}) }

/** patchStructure returns a copy of obj with every mistyped field replaced by a placeholder, or undefined if that does not make it pass. */
function patchStructure(obj: unknown, issues: readonly ZodIssue[]): DaemonSet | undefined {
  const copy = structuredClone(obj) as Record<string | number, unknown>
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') continue
    const path = issue.path
    if (path.length === 0) return undefined
    let parent: unknown = copy
    for (const seg of path.slice(0, -1)) parent = isObject(parent) || Array.isArray(parent) ? (parent as Record<string | number, unknown>)[seg] : undefined
    if (!isObject(parent) && !Array.isArray(parent)) return undefined
    const make = issue.code === 'invalid_type' ? PLACEHOLDERS[issue.expected] : issue.code === 'invalid_union' ? PLACEHOLDERS.number : undefined
    const last = path[path.length - 1] as string | number
    if (make === undefined) delete (parent as Record<string | number, unknown>)[last]
    else (parent as Record<string | number, unknown>)[last] = make()
  }
  return onlyUnknownKeys(copy) ? (copy as unknown as DaemonSet) : undefined
}

function onlyUnknownKeys(obj: unknown): boolean {
  const res = daemonSetSchema.safeParse(obj)
  return res.success || res.error.issues.every((i) => i.code === 'unrecognized_keys')
}

function objectName(obj: Record<string, unknown>, kind: string): string {
  const meta = isObject(obj.metadata) ? obj.metadata : {}
  const name = typeof meta.name === 'string' ? meta.name : ''
  if (kind !== 'DaemonSet' && kind !== 'ConfigMap' && kind !== 'Secret') return name
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default'
  return name === '' ? '' : dsRef(ns, name).key
}

function classify(raw: unknown, where: string, out: Document[]): void {
  if (!isObject(raw)) {
    out.push({ where, apiVersion: '', kind: '', name: '', errors: [{ path: '', message: 'a manifest document must be a mapping with apiVersion and kind' }], warnings: [] })
    return
  }
  const apiVersion = typeof raw.apiVersion === 'string' ? raw.apiVersion : ''
  const kind = typeof raw.kind === 'string' ? raw.kind : ''
  if (isList(kind, raw.items)) {
    // Items are classified from the raw list: a null item is "not a mapping", like a null document.
    const items = Array.isArray(raw.items) ? raw.items : []
    if (!Array.isArray(raw.items)) out.push({ where, apiVersion, kind, name: '', errors: [{ path: 'items', message: 'required' }], warnings: [] })
    items.forEach((item, i) => classify(item, `${where} items[${i}]`, out))
    return
  }
  const { value, errors: nullErrors } = stripNulls(raw)
  const obj = value as Record<string, unknown>
  const name = objectName(obj, kind)
  if (kind === 'DaemonSet') {
    out.push({ where, apiVersion, kind, name, ...withNullErrors(parseDaemonSet(obj), nullErrors) })
  } else if (kind === 'Node') {
    out.push({ where, apiVersion, kind, name, ...withNullErrors(nodeFromObject(obj), nullErrors) })
  } else if (kind === 'ConfigMap') {
    out.push({ where, apiVersion, kind, name, ...withNullErrors(parseConfigMap(obj), nullErrors) })
  } else if (kind === 'Secret') {
    out.push({ where, apiVersion, kind, name, ...withNullErrors(parseSecretManifest(obj), nullErrors) })
  } else if (kind === '') {
    out.push({ where, apiVersion, kind, name, errors: [{ path: '', message: 'kind: required' }], warnings: [] })
  } else {
    // Another kind: returned unchecked; bundle.ts says why it is skipped.
    out.push({ where, apiVersion, kind, name, errors: [], warnings: [] })
  }
}

/**
 * OCTAL_INT reads `0644` as the octal integer 420, as Kubernetes' YAML 1.1 decoder does:
 * manifests write file modes so (`defaultMode: 0644`), where YAML 1.2 would read 644.
 */
const OCTAL_INT: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^[-+]?0[0-7_]+$/,
  resolve: (s) => (s.startsWith('-') ? -1 : 1) * Number.parseInt(s.replace(/^[-+]?0/, '').replaceAll('_', ''), 8),
}

/**
 * parseManifests reads every YAML document in `text` (named `source` in messages) and
 * returns one Document per object found, valid or not: DaemonSets and Nodes checked, any
 * other kind unchecked and without errors. Empty documents (`---` alone) are skipped.
 */
export function parseManifests(text: string, source: string): Document[] {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, customTags: (tags) => [OCTAL_INT, ...tags] })
  const list = Array.isArray(docs) ? docs : [docs]
  const out: Document[] = []
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `${source} (document ${i + 1})` : source
    if (doc.errors.length > 0) {
      const errors = doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0] ?? e.message}` }))
      out.push({ where, apiVersion: '', kind: '', name: '', errors, warnings: [] })
      return
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
    } catch (err) {
      out.push({ where, apiVersion: '', kind: '', name: '', errors: [{ path: '', message: `YAML: ${(err as Error).message}` }], warnings: [] })
      return
    }
    if (value === null || value === undefined) return
    classify(value, where, out)
  })
  return out
}

/** documentErrors renders every error of the documents as `WHERE: KIND NAME: PATH: MESSAGE` lines. */
export function documentErrors(docs: readonly Document[]): string[] {
  const lines: string[] = []
  for (const d of docs) {
    const what = d.kind === '' ? '' : ` ${d.kind}${d.name === '' ? '' : ` ${d.name}`}:`
    for (const e of d.errors) lines.push(`${d.where}:${what} ${formatIssue(e)}`)
  }
  return lines
}

/**
 * loadDaemonSets parses `text` and returns its DaemonSets, or throws a ValidationError
 * that lists every error of every document (nothing is returned half-valid).
 */
export function loadDaemonSets(text: string, source: string): DaemonSet[] {
  const docs = parseManifests(text, source)
  const bad = docs.filter((d) => d.errors.length > 0)
  const others = docs.filter((d) => d.errors.length === 0 && d.kind !== 'DaemonSet')
  if (bad.length > 0) throw new ValidationError(bad.flatMap((d) => d.errors.map((e) => ({ path: e.path, message: `${d.where}: ${d.kind} ${d.name}: ${e.message}` }))))
  if (others.length > 0) throw new ManifestError(`${others[0]?.where}: expected kind DaemonSet, got ${others[0]?.kind}`)
  return docs.flatMap((d) => (d.daemonSet === undefined ? [] : [d.daemonSet]))
}
