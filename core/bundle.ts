// Bundles: what daemonmesh makes of a file or directory of mixed documents (a Helm chart's
// output, a published add-on): the DaemonSets it acts on, every other object skipped with
// the reason in kubectl's words, the errors that stop an apply and the warnings that do
// not. `check`, `plan`, `apply` and `delete -f` share these rules. No I/O here.

import type { ConfigMap } from './configmap.js'
import type { PlainSecret } from './secret.js'
import { podPlan } from './container-spec.js'
import { formatIssue, type FieldIssue } from './errors.js'
import { documentErrors, type Document } from './manifest.js'
import type { DaemonSet, NodeInfo } from './types.js'

/** APPLIED_KINDS are the kinds apply writes to the store. */
const APPLIED_KINDS: ReadonlySet<string> = new Set(['DaemonSet', 'ConfigMap', 'Secret'])

/**
 * The node the warnings' pod plan is made for: what the plan cannot honour does not depend
 * on the node, as long as the node reports its host IP and capacity (every agent does).
 */
const ANY_NODE: NodeInfo = { name: 'node', labels: {}, taints: [], addresses: [{ type: 'InternalIP', address: '192.0.2.1' }], capacity: { cpu: 1, memory: 2 ** 30 } }

/**
 * skipReason says why `apply`, `plan -f` and `delete -f` pass over an object of `kind`,
 * and returns undefined for the kinds they act on:
 *  1. DaemonSet, ConfigMap, Secret: applied (undefined);
 *  2. Node: nodes join by themselves, and label node / taint node change them;
 *  3. any other kind, Kubernetes' own or a custom resource: "not used by daemonmesh".
 */
export function skipReason(kind: string): string | undefined {
  if (APPLIED_KINDS.has(kind)) return undefined
  if (kind === 'Node') return 'not applied by daemonmesh (a node joins by itself; use label node or taint node)'
  return 'not used by daemonmesh'
}

/**
 * resourceName returns an object's name as kubectl prints it after `apply`: the lower-case
 * kind, with its API group when it has one, then `/NAME` (`serviceaccount/fluent-bit`,
 * `clusterrole.rbac.authorization.k8s.io/fluent-bit`).
 */
export function resourceName(apiVersion: string, kind: string, name: string): string {
  const slash = apiVersion.lastIndexOf('/')
  const group = slash < 0 ? '' : apiVersion.slice(0, slash)
  const groupKind = (group === '' ? kind : `${kind}.${group}`).toLowerCase()
  return name === '' ? groupKind : `${groupKind}/${name}`
}

/** skippedLine returns `RESOURCE skipped: REASON` for a document apply passes over, undefined for a DaemonSet. */
export function skippedLine(d: Document): string | undefined {
  const reason = skipReason(d.kind)
  return reason === undefined ? undefined : `${resourceName(d.apiVersion, d.kind, d.name)} skipped: ${reason}`
}

/**
 * daemonSetWarnings returns every field of a valid DaemonSet that the agents do not honour
 * (the pod plan's `unsupported`), computed from the spec alone: what `check` and `apply`
 * print for it, and what `describe ds` shows of the DaemonSet the agents hold.
 */
export function daemonSetWarnings(ds: DaemonSet): FieldIssue[] {
  return podPlan(ds, ANY_NODE).unsupported
}

/**
 * documentWarnings returns every warning of one document, as `WHERE: KIND NAME: PATH:
 * MESSAGE` lines: its unknown fields, then, for a valid DaemonSet, every field the pod plan
 * does not honour. `check` and `apply` print exactly these (a silent drop is a bug).
 */
export function documentWarnings(d: Document): string[] {
  const head = `${d.where}: ${d.kind} ${d.name}`
  const issues = [...d.warnings, ...(d.daemonSet === undefined ? [] : daemonSetWarnings(d.daemonSet))]
  return issues.map((w) => `${head}: ${formatIssue(w)}`)
}

/**
 * BundleObject is one object of a bundle, in document order: a DaemonSet, ConfigMap or Secret (in plaintext: the CLI seals it) to act on, or an
 * object skipped with its reason (skipReason). `resource` is kubectl's `KIND[.GROUP]/NAME`.
 */
export type BundleObject =
  | { where: string; resource: string; daemonSet: DaemonSet; configMap?: undefined; secret?: undefined; skipped?: undefined }
  | { where: string; resource: string; daemonSet?: undefined; configMap: ConfigMap; secret?: undefined; skipped?: undefined }
  | { where: string; resource: string; daemonSet?: undefined; configMap?: undefined; secret: PlainSecret; skipped?: undefined }
  | { where: string; resource: string; daemonSet?: undefined; configMap?: undefined; secret?: undefined; skipped: string }

/** Bundle is what `apply`, `plan -f` and `delete -f` act on. */
export interface Bundle {
  objects: BundleObject[]
  /** `WHERE: KIND NAME: PATH: MESSAGE` lines; any error means nothing is written. */
  errors: string[]
  /** The warnings of every DaemonSet (documentWarnings); they never stop an apply. */
  warnings: string[]
}

/**
 * readBundle sorts parsed documents (parseManifests) for `apply`, `plan -f` and `delete -f`:
 *  1. a valid DaemonSet, ConfigMap or Secret is an object to act on;
 *  2. a DaemonSet, ConfigMap or Secret with errors, and a document that is not an object at all
 *     (bad YAML, a scalar, no kind, a List without items), is an error: all or nothing;
 *  3. every other object is skipped once, with its reason, whatever it holds (a Node's
 *     own errors included: apply does not use it);
 *  4. DaemonSets' and ConfigMaps' warnings are gathered, valid or not.
 */
export function readBundle(docs: readonly Document[]): Bundle {
  const bundle: Bundle = { objects: [], errors: [], warnings: [] }
  for (const d of docs) {
    if (APPLIED_KINDS.has(d.kind)) bundle.warnings.push(...documentWarnings(d))
    const reason = skipReason(d.kind)
    if (d.daemonSet !== undefined) {
      bundle.objects.push({ where: d.where, resource: `daemonset.apps/${d.daemonSet.metadata.name}`, daemonSet: d.daemonSet })
    } else if (d.configMap !== undefined) {
      bundle.objects.push({ where: d.where, resource: `configmap/${d.configMap.metadata.name}`, configMap: d.configMap })
    } else if (d.secret !== undefined) {
      bundle.objects.push({ where: d.where, resource: `secret/${d.secret.metadata.name}`, secret: d.secret })
    } else if (reason !== undefined && d.kind !== '' && (d.errors.length === 0 || d.kind === 'Node')) {
      bundle.objects.push({ where: d.where, resource: resourceName(d.apiVersion, d.kind, d.name), skipped: reason })
    } else {
      bundle.errors.push(...documentErrors([d]))
    }
  }
  return bundle
}
