// API views: the kubectl-style objects the API returns for nodes and DaemonSets.

import type { Envelope } from '../../core/envelope.js'
import type { NodeRecord } from '../../core/node-record.js'
import { daemonSetStatus } from '../../core/status.js'
import type { DaemonSet } from '../../core/types.js'
import type { NodeView } from '../membership/membership.js'

/** nodeObject renders a member as a Kubernetes-like Node. */
export function nodeObject(n: NodeView & { pending?: string }): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.record.name, labels: n.record.labels },
    spec: { taints: n.record.taints },
    status: {
      // A host not admitted is Pending, whatever the failure detector says (Left stays Left).
      state: n.pending !== undefined && n.state !== 'Left' ? 'Pending' : n.state,
      ...(n.pending === undefined ? {} : { admission: n.pending }),
      peerId: n.record.peerId,
      keyId: n.keyId,
      addresses: n.record.addresses,
      ...(n.record.hostIP === undefined ? {} : { hostIP: n.record.hostIP }),
      ...(n.record.capacity === undefined ? {} : { capacity: { cpu: String(n.record.capacity.cpu), memory: `${Math.floor(n.record.capacity.memory / 1024)}Ki` } }),
      conditions: n.record.conditions,
      agentVersion: n.record.version,
      startedAt: new Date(n.record.startedAt).toISOString(),
      lastSeen: new Date(n.lastSeen).toISOString(),
      pods: n.record.pods,
      workers: n.record.workers ?? {},
      events: n.record.events ?? [],
    },
  }
}

/** daemonSetObject renders a stored DaemonSet with its status over the member nodes. */
export function daemonSetObject(env: Envelope, members: readonly NodeRecord[], now: number): Record<string, unknown> {
  const ds = env.value as DaemonSet
  return {
    ...ds,
    metadata: { ...ds.metadata, resourceVersion: env.hlc, annotations: { ...(ds.metadata.annotations ?? {}), 'daemonmesh.io/author': env.author } },
    status: daemonSetStatus(ds, members, now),
  }
}
