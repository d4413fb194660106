// Kubernetes defaults for a DaemonSet, per apiVersion. Returns a new object; the input
// is never changed. No I/O here.

import { defaultPullPolicy } from './image.js'
import type { Container, DaemonSet } from './types.js'

export const DEFAULT_NAMESPACE = 'default'
export const DEFAULT_REVISION_HISTORY_LIMIT = 10
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30
export const DEFAULT_MAX_UNAVAILABLE = 1
export const DEFAULT_MAX_SURGE = 0

function defaultContainer(c: Container): Container {
  const out: Container = { ...c, imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image ?? '') }
  if (c.ports !== undefined) out.ports = c.ports.map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' }))
  return out
}

/**
 * applyDefaults returns a copy of `ds` with the defaults Kubernetes applies for its
 * apiVersion: extensions/v1beta1 defaults the selector and labels from the template
 * labels and uses OnDelete; apps/v1 and apps/v1beta2 use RollingUpdate with
 * maxUnavailable 1 and maxSurge 0. All versions: namespace `default`,
 * revisionHistoryLimit 10, restartPolicy Always, terminationGracePeriodSeconds 30,
 * imagePullPolicy by tag, port protocol TCP.
 */
export function applyDefaults(input: DaemonSet): DaemonSet {
  const ds = structuredClone(input)
  const legacy = ds.apiVersion === 'extensions/v1beta1'
  ds.metadata.namespace = ds.metadata.namespace ?? DEFAULT_NAMESPACE
  const templateLabels = ds.spec.template.metadata?.labels
  if (legacy && templateLabels !== undefined && Object.keys(templateLabels).length > 0) {
    if (ds.spec.selector === undefined || ds.spec.selector === null) ds.spec.selector = { matchLabels: { ...templateLabels } }
    if (ds.metadata.labels === undefined || Object.keys(ds.metadata.labels).length === 0) ds.metadata.labels = { ...templateLabels }
  }
  const strategy = ds.spec.updateStrategy ?? {}
  strategy.type = strategy.type ?? (legacy ? 'OnDelete' : 'RollingUpdate')
  if (strategy.type === 'RollingUpdate') {
    strategy.rollingUpdate = {
      maxUnavailable: strategy.rollingUpdate?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE,
      maxSurge: strategy.rollingUpdate?.maxSurge ?? DEFAULT_MAX_SURGE,
    }
  }
  ds.spec.updateStrategy = strategy
  ds.spec.revisionHistoryLimit = ds.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT
  ds.spec.minReadySeconds = ds.spec.minReadySeconds ?? 0
  if (legacy) ds.spec.templateGeneration = ds.spec.templateGeneration ?? 1
  const pod = ds.spec.template.spec
  pod.restartPolicy = pod.restartPolicy ?? 'Always'
  pod.terminationGracePeriodSeconds = pod.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS
  pod.containers = pod.containers.map(defaultContainer)
  if (pod.initContainers !== undefined) pod.initContainers = pod.initContainers.map(defaultContainer)
  return ds
}
