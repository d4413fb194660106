// `daemonmesh get endpoints ds/NAME`: where each copy can be reached (node, node address,
// host ports, ready): the seeds' "NodeIP and known port" and headless-service patterns,
// without DNS.

import { refOf } from '../../core/keyspace.js'
import type { AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { fleetNodes, liveDaemonSets, nodeAddress } from '../fleet.js'
import { dsArg, notFound } from '../resources.js'
import { table } from '../table.js'

export interface Endpoint {
  node: string
  address: string
  ports: { port: number; protocol: string; name?: string }[]
  ready: boolean
}

export async function runEndpoints(ref: string | undefined, opts: { namespace?: string; output?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const wanted = dsArg(ref, opts.namespace)
  if (wanted === undefined) throw new UsageError('get endpoints: give the DaemonSet as ds/NAME')
  const output = opts.output ?? 'table'
  if (output !== 'table' && output !== 'json') throw new UsageError(`-o ${output}: use json or omit it`)
  const [dss, nodes] = await Promise.all([liveDaemonSets(target), fleetNodes(target)])
  const ds = dss.find((d) => refOf(d).key === wanted.key)
  if (ds === undefined) throw new CliError(notFound('daemonsets.apps', wanted.name, wanted.namespace))
  const spec = ds.spec.template.spec
  const ports = spec.containers.flatMap((c) =>
    (c.ports ?? []).flatMap((p) => {
      const port = spec.hostNetwork === true ? p.containerPort : (p.hostPort ?? 0)
      return port === 0 ? [] : [{ port, protocol: p.protocol ?? 'TCP', ...(p.name === undefined ? {} : { name: p.name }) }]
    }),
  )
  const items: Endpoint[] = nodes
    .filter((n) => n.pods[wanted.key] !== undefined)
    .map((n) => ({ node: n.info.name, address: nodeAddress(n.addresses), ports, ready: n.pods[wanted.key]?.ready === true && n.state === 'Alive' }))
  if (output === 'json') {
    out.write(`${JSON.stringify({ kind: 'Endpoints', daemonset: wanted.key, items }, null, 4)}\n`)
    return
  }
  if (items.length === 0) {
    out.write(`No endpoints for daemonset.apps/${ds.metadata.name}: no copy is running.\n`)
    return
  }
  const portText = ports.length === 0 ? '<none>' : ports.map((p) => `${p.port}/${p.protocol}`).join(',')
  out.write(table(['NODE', 'ADDRESS', 'PORTS', 'READY'], items.map((e) => [e.node, e.address, portText, e.ready ? 'true' : 'false'])))
}
