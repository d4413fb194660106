// Reading the live fleet through the API as core types: nodes (with their reported pods)
// and DaemonSets. Shared by describe, plan and endpoints.

import type { PodStatus, WorkerStatus } from '../core/node-record.js'
import type { DaemonSet, NodeInfo, Taint } from '../core/types.js'
import { call, type AgentTarget } from './client.js'

export interface FleetNode {
  info: NodeInfo
  state: string
  addresses: string[]
  /** The host's address as its pods see it (status.hostIP); absent from older agents. */
  hostIP?: string
  conditions: { type: string; status: string; reason?: string; message?: string }[]
  version: string
  pods: Record<string, PodStatus>
  /** What the node's busy pod workers are doing, by DaemonSet key form. */
  workers: Record<string, WorkerStatus>
}

interface NodeObj {
  metadata: { name: string; labels: Record<string, string> }
  spec: { taints: Taint[] }
  status: { state: string; addresses: string[]; hostIP?: string; conditions: FleetNode['conditions']; agentVersion: string; pods: Record<string, PodStatus>; workers?: Record<string, WorkerStatus> }
}

/** fleetNodes lists the agent's view of the fleet (Left nodes excluded unless asked). */
export async function fleetNodes(target: AgentTarget, includeLeft = false): Promise<FleetNode[]> {
  const list = await call<{ items: NodeObj[] }>(target, 'GET', '/v1/nodes')
  return list.items
    .filter((n) => includeLeft || n.status.state !== 'Left')
    .map((n) => ({
      info: { name: n.metadata.name, labels: n.metadata.labels, taints: n.spec.taints },
      state: n.status.state,
      addresses: n.status.addresses,
      ...(n.status.hostIP === undefined ? {} : { hostIP: n.status.hostIP }),
      conditions: n.status.conditions,
      version: n.status.agentVersion,
      pods: n.status.pods ?? {},
      workers: n.status.workers ?? {},
    }))
}

export type LiveDaemonSet = DaemonSet & { status: Record<string, unknown> & { pods: { running: number; waiting: number; succeeded: number; failed: number } } }

/** liveDaemonSets lists the stored DaemonSets with their computed status. */
export async function liveDaemonSets(target: AgentTarget): Promise<LiveDaemonSet[]> {
  return (await call<{ items: LiveDaemonSet[] }>(target, 'GET', '/v1/daemonsets')).items
}

/** nodeAddress picks the address a client would use: the first non-loopback IP of the node's multiaddrs. */
export function nodeAddress(addresses: readonly string[]): string {
  const ips = addresses.map((a) => /^\/ip[46]\/([^/]+)\//.exec(a)?.[1]).filter((x): x is string => x !== undefined)
  return ips.find((ip) => !ip.startsWith('127.') && ip !== '::1') ?? ips[0] ?? '<none>'
}
