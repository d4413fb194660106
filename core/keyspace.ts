// The store's key namespace: every key of the replicated store and of the node-record map
// is built and parsed here, and nowhere else. A DaemonSet has one reference type, DsRef,
// which yields both of its spellings: the key form `NAMESPACE/NAME` (store keys, node
// records, the lease) and the label form `NAMESPACE.NAME` (container labels). No I/O here.
//
//   ds/NAMESPACE/NAME              a DaemonSet (operator-signed)
//   history/NAMESPACE/NAME         its revision history (operator-signed)
//   pods/NAMESPACE/NAME/NODE       a request to delete NODE's copy (operator-signed)
//   nodes/NODE                     the operator's label/taint overlay of NODE (operator-signed)
//   cm/NAMESPACE/NAME              a ConfigMap (operator-signed); its name is a DsRef too
//   release/NAMESPACE/NAME/NODE    a request to free NODE's update slot (operator-signed)
//   admission/NODE                 the node key admitted under NODE (operator-signed; core/node-admission.ts)
//   secret/NAMESPACE/NAME          a Secret, its data sealed (operator-signed); a DsRef too
//   node/KEYID                     a node record, in the membership map (signed by KEYID)

import { isKeyId } from './keys.js'
import { dns1123Label, dns1123Subdomain } from './names.js'
import type { DaemonSet } from './types.js'

// Names are checked by the same rules validation applies to a DaemonSet (names.ts), so a
// key parses exactly when a valid object could be stored under it.

/** isNamespace: an RFC 1123 label (no dots, so the label form splits at its first dot). */
const isNamespace = (text: string): boolean => dns1123Label(text).length === 0
/** isName: a DaemonSet or node name, an RFC 1123 subdomain (dots, never a slash). */
const isName = (text: string): boolean => dns1123Subdomain(text).length === 0

/** DsRef names one DaemonSet; `key` and `label` are its two spellings. */
export interface DsRef {
  readonly namespace: string
  readonly name: string
  /** `NAMESPACE/NAME`: node records' pod map, the lease, store keys. */
  readonly key: string
  /** `NAMESPACE.NAME`: the daemonmesh.io/daemonset container label. */
  readonly label: string
}

/** dsRef returns the reference of DaemonSet `namespace/name` (namespace defaults to "default"). */
export function dsRef(namespace: string | undefined, name: string): DsRef {
  const ns = namespace ?? 'default'
  return Object.freeze({ namespace: ns, name, key: `${ns}/${name}`, label: `${ns}.${name}` })
}

/** refOf returns the reference of a DaemonSet object. */
export function refOf(ds: DaemonSet): DsRef {
  return dsRef(ds.metadata.namespace, ds.metadata.name)
}

function checked(namespace: string, name: string): DsRef | undefined {
  return isNamespace(namespace) && isName(name) ? dsRef(namespace, name) : undefined
}

/** parseDsKey reads the key form `NAMESPACE/NAME`; undefined when it is not one. */
export function parseDsKey(text: string): DsRef | undefined {
  const slash = text.indexOf('/')
  return slash < 0 ? undefined : checked(text.slice(0, slash), text.slice(slash + 1))
}

/** parseDsLabel reads the label form `NAMESPACE.NAME`; undefined when it is not one. */
export function parseDsLabel(text: string): DsRef | undefined {
  const dot = text.indexOf('.')
  return dot < 0 ? undefined : checked(text.slice(0, dot), text.slice(dot + 1))
}

/** isNodeName reports whether text is a valid node name (an RFC 1123 subdomain). */
export function isNodeName(text: string): boolean {
  return isName(text)
}

/** Key prefixes, for listing one kind of entry. */
export const Prefix = {
  daemonSet: 'ds/',
  history: 'history/',
  podDelete: 'pods/',
  overlay: 'nodes/',
  configMap: 'cm/',
  leaseRelease: 'release/',
  admission: 'admission/',
  secret: 'secret/',
  nodeRecord: 'node/',
} as const

/** Builders of every store key. */
export const StoreKey = {
  daemonSet: (ref: DsRef): string => `${Prefix.daemonSet}${ref.key}`,
  history: (ref: DsRef): string => `${Prefix.history}${ref.key}`,
  podDelete: (ref: DsRef, node: string): string => `${Prefix.podDelete}${ref.key}/${node}`,
  overlay: (node: string): string => `${Prefix.overlay}${node}`,
  /** A ConfigMap, named like a DaemonSet (namespace and name: dsRef). */
  configMap: (ref: DsRef): string => `${Prefix.configMap}${ref.key}`,
  /** An operator's request to free NODE's update slot of a DaemonSet (`rollout release`). */
  leaseRelease: (ref: DsRef, node: string): string => `${Prefix.leaseRelease}${ref.key}/${node}`,
  /** A Secret, named like a DaemonSet. */
  secret: (ref: DsRef): string => `${Prefix.secret}${ref.key}`,
  nodeRecord: (keyId: string): string => `${Prefix.nodeRecord}${keyId}`,
  admission: (node: string): string => `${Prefix.admission}${node}`,
} as const

/** ParsedKey is a store key read back into what it names. */
export type ParsedKey =
  | { kind: 'daemonSet'; ref: DsRef }
  | { kind: 'history'; ref: DsRef }
  | { kind: 'podDelete'; ref: DsRef; node: string }
  | { kind: 'overlay'; node: string }
  | { kind: 'configMap'; ref: DsRef }
  | { kind: 'leaseRelease'; ref: DsRef; node: string }
  | { kind: 'secret'; ref: DsRef }
  | { kind: 'nodeRecord'; keyId: string }
  | { kind: 'admission'; node: string }

/** dsAndNode reads `NAMESPACE/NAME/NODE`; undefined when it is not one. */
function dsAndNode(rest: string): { ref: DsRef; node: string } | undefined {
  const last = rest.lastIndexOf('/')
  const ref = last < 0 ? undefined : parseDsKey(rest.slice(0, last))
  const node = rest.slice(last + 1)
  return ref === undefined || !isName(node) ? undefined : { ref, node }
}

/** parseStoreKey reads any key of the store or the node-record map; undefined when it is none of them. */
export function parseStoreKey(key: string): ParsedKey | undefined {
  if (key.startsWith(Prefix.daemonSet)) {
    const ref = parseDsKey(key.slice(Prefix.daemonSet.length))
    return ref === undefined ? undefined : { kind: 'daemonSet', ref }
  }
  if (key.startsWith(Prefix.history)) {
    const ref = parseDsKey(key.slice(Prefix.history.length))
    return ref === undefined ? undefined : { kind: 'history', ref }
  }
  if (key.startsWith(Prefix.podDelete)) {
    const p = dsAndNode(key.slice(Prefix.podDelete.length))
    return p === undefined ? undefined : { kind: 'podDelete', ...p }
  }
  if (key.startsWith(Prefix.leaseRelease)) {
    const p = dsAndNode(key.slice(Prefix.leaseRelease.length))
    return p === undefined ? undefined : { kind: 'leaseRelease', ...p }
  }
  if (key.startsWith(Prefix.overlay)) {
    const node = key.slice(Prefix.overlay.length)
    return isName(node) ? { kind: 'overlay', node } : undefined
  }
  if (key.startsWith(Prefix.configMap)) {
    const ref = parseDsKey(key.slice(Prefix.configMap.length))
    return ref === undefined ? undefined : { kind: 'configMap', ref }
  }
  if (key.startsWith(Prefix.admission)) {
    const node = key.slice(Prefix.admission.length)
    return isName(node) ? { kind: 'admission', node } : undefined
  }
  if (key.startsWith(Prefix.secret)) {
    const ref = parseDsKey(key.slice(Prefix.secret.length))
    return ref === undefined ? undefined : { kind: 'secret', ref }
  }
  if (key.startsWith(Prefix.nodeRecord)) {
    const keyId = key.slice(Prefix.nodeRecord.length)
    return isKeyId(keyId) ? { kind: 'nodeRecord', keyId } : undefined
  }
  return undefined
}
