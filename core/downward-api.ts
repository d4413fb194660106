// The downward API as Kubernetes has it: a pod's own facts (fieldRef) and its containers'
// resources (resourceFieldRef), as env values and as the files of downwardAPI volumes. The
// files are returned as data; the runtime writes them. No I/O here.

import { createHash } from 'node:crypto'
import type { FieldIssue } from './errors.js'
import { joinPath } from './path.js'
import { parseQuantity } from './quantity.js'
import type { Container, DaemonSet, DownwardAPIItem, IntOrString, NodeInfo } from './types.js'

/** PodFacts is what the downward API reads of one pod on one node. */
export interface PodFacts {
  ds: DaemonSet
  node: NodeInfo
  /** The pod's name (`NAME-NODE`). */
  pod: string
  /** The pod's uid (podUid). */
  uid: string
}

/** PodFile is one file of a volume the runtime writes: its path in the volume, content and mode. */
export interface PodFile {
  path: string
  content: string | Uint8Array
  mode: number
}

/** A downwardAPI volume's files are 0644 unless `defaultMode` or the item's `mode` say otherwise (Kubernetes' default). */
export const DEFAULT_FILE_MODE = 0o644

/** Field paths a downwardAPI volume item may name (Kubernetes' validVolumeDownwardAPIFieldPathExpressions). */
const VOLUME_FIELDS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.labels', 'metadata.annotations']
/** Field paths an env var may name (Kubernetes' validEnvDownwardAPIFieldPathExpressions). */
const ENV_FIELDS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs']
/** Resources resourceFieldRef may name, and the divisors Kubernetes accepts for each. */
const CPU_DIVISORS = ['1m', '1']
const BYTE_DIVISORS = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei']
const RESOURCES: Record<string, string[]> = {
  'limits.cpu': CPU_DIVISORS,
  'requests.cpu': CPU_DIVISORS,
  'limits.memory': BYTE_DIVISORS,
  'requests.memory': BYTE_DIVISORS,
  'limits.ephemeral-storage': BYTE_DIVISORS,
  'requests.ephemeral-storage': BYTE_DIVISORS,
}

/**
 * podUid returns the pod's `metadata.uid`: a UUID (RFC 4122 layout) derived from the
 * DaemonSet's identity and creation, the node and the revision, so it is the same after an
 * agent restart (the pod is adopted, not recreated) and new for each revision.
 */
export function podUid(ds: DaemonSet, node: string, revision: string): string {
  const h = createHash('sha256')
    .update([ds.metadata.namespace ?? 'default', ds.metadata.name, String(ds.metadata.creationTimestamp ?? ''), node, revision].join('\u0000'))
    .digest()
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

/** hostIPOf returns the node's InternalIP (core/host-ip.ts chose it on the host), or undefined. */
export function hostIPOf(node: NodeInfo): string | undefined {
  return node.addresses?.find((a) => a.type === 'InternalIP')?.address
}

/**
 * formatMap renders labels or annotations as a downwardAPI file does: `key="value"` lines
 * sorted by key, values quoted, no newline after the last.
 */
export function formatMap(m: Readonly<Record<string, string>>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`)
    .join('\n')
}

type Resolved = { value: string; why?: undefined } | { value?: undefined; why: string }

/**
 * fieldValue resolves a fieldRef for an env var (`env`) or a volume file (`volume`), as
 * Kubernetes does:
 *  1. metadata.name, metadata.namespace, metadata.uid, labels and annotations (one key, or
 *     the whole map in a volume file) are the pod's;
 *  2. spec.nodeName, spec.serviceAccountName (default "default"), status.hostIP(s) (the
 *     node's InternalIP), in env only;
 *  3. status.podIP(s) in env only, and only with hostNetwork, where the pod's IP is the
 *     host's: a bridged pod's address is given by Docker when it starts, after its env is set.
 */
export function fieldValue(facts: PodFacts, fieldPath: string, where: 'env' | 'volume'): Resolved {
  const meta = facts.ds.spec.template.metadata ?? {}
  const spec = facts.ds.spec.template.spec
  const one = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath)
  if (one !== null) return { value: (one[1] === 'labels' ? meta.labels : meta.annotations)?.[one[2] ?? ''] ?? '' }
  const allowed = where === 'env' ? ENV_FIELDS : VOLUME_FIELDS
  if (!allowed.includes(fieldPath)) return { why: `not supported: "${fieldPath}": supported values: ${allowed.map((f) => `"${f}"`).join(', ')}, "metadata.labels['KEY']", "metadata.annotations['KEY']"` }
  const hostIP = hostIPOf(facts.node)
  switch (fieldPath) {
    case 'metadata.name':
      return { value: facts.pod }
    case 'metadata.namespace':
      return { value: facts.ds.metadata.namespace ?? 'default' }
    case 'metadata.uid':
      return { value: facts.uid }
    case 'metadata.labels':
      return { value: formatMap(meta.labels ?? {}) }
    case 'metadata.annotations':
      return { value: formatMap(meta.annotations ?? {}) }
    case 'spec.nodeName':
      return { value: facts.node.name }
    case 'spec.serviceAccountName': {
      const sa = spec.serviceAccountName ?? spec.serviceAccount
      return { value: typeof sa === 'string' && sa !== '' ? sa : 'default' }
    }
    case 'status.hostIP':
    case 'status.hostIPs':
      return hostIP === undefined ? { why: `not resolved: node ${facts.node.name} reports no host IP (an agent older than this field)` } : { value: hostIP }
    default:
      // status.podIP, status.podIPs
      if (spec.hostNetwork !== true) return { why: `not supported: "${fieldPath}" without hostNetwork: a bridged pod's address is assigned when it starts, after its environment is set` }
      return hostIP === undefined ? { why: `not resolved: node ${facts.node.name} reports no host IP` } : { value: hostIP }
  }
}

/** ResourceFieldRef is a container's resource as the downward API names it. */
export interface ResourceFieldRef {
  containerName?: string
  resource: string
  divisor?: IntOrString
}

/**
 * resourceValue returns a container's resource in units of `divisor` (default 1), rounded
 * up, as the kubelet does: a limit the container does not set is the node's capacity; a
 * request it does not set is its limit when it has one, else 0.
 */
export function resourceValue(facts: PodFacts, ref: ResourceFieldRef, container: Container | undefined): Resolved {
  if (container === undefined) return { why: `not resolved: no container "${ref.containerName ?? ''}" in the pod` }
  const divisors = RESOURCES[ref.resource]
  if (divisors === undefined) return { why: `not supported: resource "${ref.resource}": supported values: ${Object.keys(RESOURCES).map((r) => `"${r}"`).join(', ')}` }
  const divisor = parseQuantity(ref.divisor ?? '1')
  if (divisor === undefined || divisor <= 0) return { why: `not supported: divisor ${JSON.stringify(ref.divisor)}` }
  const [kind, name] = ref.resource.split('.') as ['limits' | 'requests', string]
  const own = (k: 'limits' | 'requests'): number | undefined => parseQuantity(container.resources?.[k]?.[name])
  let amount = kind === 'limits' ? own('limits') : (own('requests') ?? own('limits') ?? 0)
  if (amount === undefined) {
    // Kubernetes uses the node's allocatable; here the host's capacity (nothing is reserved).
    const cap = name === 'cpu' ? facts.node.capacity?.cpu : name === 'memory' ? facts.node.capacity?.memory : undefined
    if (cap === undefined) return { why: `not resolved: ${ref.resource} is not set and node ${facts.node.name} reports no ${name} capacity` }
    amount = cap
  }
  // Whole milli-units for cpu, whole bytes otherwise, as resource.Quantity counts them.
  const value = name === 'cpu' ? Math.ceil(Math.round(amount * 1000) / Math.round(divisor * 1000)) : Math.ceil(Math.round(amount) / Math.round(divisor))
  return { value: String(value) }
}

/** validResourceDivisor says whether Kubernetes accepts `divisor` for `resource` (unknown resources pass: they are reported as not supported). */
export function validResourceDivisor(resource: string, divisor: IntOrString | undefined): boolean {
  const allowed = RESOURCES[resource]
  if (allowed === undefined || divisor === undefined) return true
  const d = parseQuantity(divisor)
  return allowed.some((a) => parseQuantity(a) === d)
}

/**
 * downwardFiles returns the files of a downwardAPI volume (or a projected volume's
 * downwardAPI source) at `path`, and every item it cannot resolve: such an item has no file.
 */
export function downwardFiles(facts: PodFacts, items: readonly DownwardAPIItem[], defaultMode: number | undefined, path: string): { files: PodFile[]; issues: FieldIssue[] } {
  const files: PodFile[] = []
  const issues: FieldIssue[] = []
  const containers = facts.ds.spec.template.spec.containers
  items.forEach((item, i) => {
    const at = joinPath(path, 'items', i)
    const r =
      item.fieldRef !== undefined
        ? fieldValue(facts, item.fieldRef.fieldPath, 'volume')
        : item.resourceFieldRef !== undefined
          ? resourceValue(facts, item.resourceFieldRef, containers.find((c) => c.name === item.resourceFieldRef?.containerName))
          : { why: 'not supported: an item needs fieldRef or resourceFieldRef' }
    if (r.value === undefined) issues.push({ path: joinPath(at, item.fieldRef !== undefined ? 'fieldRef' : 'resourceFieldRef'), message: r.why })
    else files.push({ path: item.path, content: r.value, mode: item.mode ?? defaultMode ?? DEFAULT_FILE_MODE })
  })
  return { files, issues }
}
