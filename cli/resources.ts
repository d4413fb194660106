// Resource names as kubectl accepts them (`ds`, `daemonsets.apps`, `po`, `no`…) and the
// TYPE/NAME form (`ds/fluentd`), shared by the verbs.

import { dsRef, type DsRef } from '../core/keyspace.js'

export const DS_RESOURCES = new Set(['ds', 'daemonset', 'daemonsets', 'daemonset.apps', 'daemonsets.apps'])
export const POD_RESOURCES = new Set(['pod', 'pods', 'po'])
export const NODE_RESOURCES = new Set(['node', 'nodes', 'no'])
export const CM_RESOURCES = new Set(['cm', 'configmap', 'configmaps'])
export const SECRET_RESOURCES = new Set(['secret', 'secrets'])
export const EVENT_RESOURCES = new Set(['ev', 'event', 'events'])

/** splitRef reads `TYPE/NAME` (or TYPE and a separate NAME) into its parts. */
export function splitRef(resource: string, name?: string): { resource: string; name: string | undefined } {
  const slash = resource.indexOf('/')
  return slash < 0 ? { resource, name } : { resource: resource.slice(0, slash), name: resource.slice(slash + 1) }
}

/**
 * dsArg reads a `ds/NAME` argument (any DaemonSet resource spelling) in `namespace` (-n,
 * default "default") and returns the DaemonSet it names, or undefined when it names none.
 */
export function dsArg(arg: string | undefined, namespace: string | undefined): DsRef | undefined {
  if (arg === undefined) return undefined
  const { resource, name } = splitRef(arg)
  return DS_RESOURCES.has(resource) && name !== undefined && /^[a-z0-9.-]+$/.test(name) ? dsRef(namespace, name) : undefined
}

/** notFound is kubectl's message for a missing object: `daemonsets.apps "x" not found [in namespace "ns"]`. */
export function notFound(resource: string, name: string, ns: string): string {
  return `${resource} "${name}" not found${ns === 'default' ? '' : ` in namespace "${ns}"`}`
}
