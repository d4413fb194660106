// The kube-state-metrics series of the DaemonSets, as one agent sees the fleet: the same
// names, types, HELP texts and labels as kube-state-metrics' daemonset and pod metrics, so
// that existing dashboards and alerts work unchanged. Values come from daemonSetStatus
// (the numbers `get ds` prints). No I/O here: the agent turns these families into its
// Prometheus registry.

import type { History } from './history.js'
import { refOf } from './keyspace.js'
import { byCodeUnit } from './order.js'
import type { NodeRecord } from './node-record.js'
import { daemonSetStatus, type DaemonSetStatus } from './status.js'
import type { DaemonSet } from './types.js'

/** Sample is one value of a series with its labels. */
export interface Sample {
  labels: Record<string, string>
  value: number
}

/** MetricFamily is one metric name with its type, help text and samples. */
export interface MetricFamily {
  name: string
  help: string
  type: 'gauge' | 'counter'
  labelNames: readonly string[]
  samples: Sample[]
}

/** StoredDaemonSet is a live DaemonSet with its revision history, when one is stored. */
export interface StoredDaemonSet {
  ds: DaemonSet
  history?: History
}

/** The DaemonSet status gauges: kube-state-metrics' name suffix, HELP, and the status field. */
const STATUS_GAUGES: readonly (readonly [string, string, keyof Omit<DaemonSetStatus, 'pods' | 'currentRevision'>])[] = [
  ['status_current_number_scheduled', 'The number of nodes running at least one daemon pod and are supposed to.', 'currentNumberScheduled'],
  ['status_desired_number_scheduled', 'The number of nodes that should be running the daemon pod.', 'desiredNumberScheduled'],
  ['status_number_available', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available', 'numberAvailable'],
  ['status_number_misscheduled', 'The number of nodes running a daemon pod but are not supposed to.', 'numberMisscheduled'],
  ['status_number_ready', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.', 'numberReady'],
  ['status_number_unavailable', 'The number of nodes that should be running the daemon pod and have none of the daemon pod running and available', 'numberUnavailable'],
  ['status_updated_number_scheduled', 'The total number of nodes that are running updated daemon pod', 'updatedNumberScheduled'],
]

const DS_LABELS = ['namespace', 'daemonset'] as const

/**
 * generationOf returns the DaemonSet's generation: `metadata.generation` when the manifest
 * carries a positive integer, else the newest revision number of its rollout history
 * (which, like Kubernetes' generation, grows with every template change), else 1.
 */
export function generationOf(s: StoredDaemonSet): number {
  const g = (s.ds.metadata as { generation?: unknown }).generation
  if (typeof g === 'number' && Number.isSafeInteger(g) && g > 0) return g
  const newest = Math.max(0, ...(s.history?.revisions ?? []).map((r) => r.revision))
  return newest > 0 ? newest : 1
}

/** podName is a copy's pod name as `get pods` prints it: `DAEMONSET-NODE`. */
export const podName = (daemonSet: string, node: string): string => `${daemonSet}-${node}`

/**
 * kubeStateFamilies returns the kube-state-metrics families for `daemonSets` over the member
 * nodes `members` at wall time `now`:
 *  1. kube_daemonset_status_* (gauges), from daemonSetStatus, one sample per DaemonSet;
 *  2. kube_daemonset_metadata_generation and kube_daemonset_status_observed_generation
 *     (gauges): generationOf; an agent acts on a spec as soon as it holds it, so the
 *     generation it observed is the one it holds;
 *  3. kube_pod_info (gauge, 1) per reported copy, joining a pod to its node and DaemonSet;
 *  4. kube_pod_container_status_restarts_total (counter) per reported copy: the restarts
 *     the node reports for the pod; `container` is the template's container when it has
 *     one, and empty (the pod's total) when it has several.
 * Copies of DaemonSets this agent does not hold are left out.
 */
export function kubeStateFamilies(daemonSets: readonly StoredDaemonSet[], members: readonly NodeRecord[], now: number): MetricFamily[] {
  const status = STATUS_GAUGES.map(([suffix, help]) => ({ name: `kube_daemonset_${suffix}`, help, type: 'gauge' as const, labelNames: DS_LABELS, samples: [] as Sample[] }))
  const generation: MetricFamily = { name: 'kube_daemonset_metadata_generation', help: 'Sequence number representing a specific generation of the desired state.', type: 'gauge', labelNames: DS_LABELS, samples: [] }
  const observed: MetricFamily = { name: 'kube_daemonset_status_observed_generation', help: 'The most recent generation observed by the daemon set controller.', type: 'gauge', labelNames: DS_LABELS, samples: [] }
  const podInfo: MetricFamily = { name: 'kube_pod_info', help: 'Information about pod.', type: 'gauge', labelNames: ['namespace', 'pod', 'node', 'created_by_kind', 'created_by_name'], samples: [] }
  const restarts: MetricFamily = { name: 'kube_pod_container_status_restarts_total', help: 'The number of container restarts per container.', type: 'counter', labelNames: ['namespace', 'pod', 'container'], samples: [] }
  const sorted = [...daemonSets].sort((a, b) => byCodeUnit(refOf(a.ds).key, refOf(b.ds).key))
  for (const s of sorted) {
    const ref = refOf(s.ds)
    const labels = { namespace: ref.namespace, daemonset: ref.name }
    const st = daemonSetStatus(s.ds, members, now)
    STATUS_GAUGES.forEach(([, , field], i) => status[i]?.samples.push({ labels, value: st[field] }))
    const g = generationOf(s)
    generation.samples.push({ labels, value: g })
    observed.samples.push({ labels, value: g })
    const containers = s.ds.spec.template.spec.containers
    const container = containers.length === 1 ? (containers[0]?.name ?? '') : ''
    for (const node of [...members].sort((a, b) => byCodeUnit(a.name, b.name))) {
      const pod = node.pods[ref.key]
      if (pod === undefined) continue
      const name = podName(ref.name, node.name)
      podInfo.samples.push({ labels: { namespace: ref.namespace, pod: name, node: node.name, created_by_kind: 'DaemonSet', created_by_name: ref.name }, value: 1 })
      restarts.samples.push({ labels: { namespace: ref.namespace, pod: name, container }, value: pod.restarts })
    }
  }
  return [...status, generation, observed, podInfo, restarts]
}
