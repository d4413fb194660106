// `daemonmesh get ds|nodes [NAME]`: tables as kubectl prints them, or -o json|yaml|name.

import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { age, checkOutput, serialize } from '../format.js'
import { table } from '../table.js'
import { parseDsKey } from '../../core/keyspace.js'
import { compileSelector } from '../../core/selector.js'
import { parseSelectorText } from '../../core/selector-text.js'
import { renderTemplate } from '../template.js'
import { runGetEvents } from './events.js'
import { CM_RESOURCES, DS_RESOURCES, EVENT_RESOURCES, NODE_RESOURCES, POD_RESOURCES, SECRET_RESOURCES, notFound, splitRef } from '../resources.js'


interface Obj {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string }
  spec: Record<string, unknown>
  status: Record<string, unknown>
}
interface List {
  apiVersion: string
  kind: 'List'
  items: Obj[]
}

export interface GetOptions {
  namespace?: string
  allNamespaces?: boolean
  output?: string
  selector?: string
  /** events only: follow (-w), and only one DaemonSet's (--for ds/NAME). */
  watch?: boolean
  for?: string
}

/** filterList keeps the items a `-l` selector matches. */
function filterList(list: List, selectorText: string | undefined): void {
  if (selectorText === undefined) return
  const parsed = parseSelectorText(selectorText)
  if (parsed.selector === undefined) throw new UsageError(`-l ${selectorText}: ${parsed.issues.map((i) => i.message).join('; ')}`)
  const { selector, issues } = compileSelector(parsed.selector, '')
  if (issues.length > 0) throw new UsageError(`-l ${selectorText}: ${issues.map((i) => i.message).join('; ')}`)
  list.items = list.items.filter((i) => selector.matches(i.metadata.labels ?? {}))
}

/** printStructured handles -o json|yaml|go-template; returns false for the other formats. */
function printStructured(list: List, name: string | undefined, output: string, out: NodeJS.WritableStream): boolean {
  const value = name !== undefined ? list.items[0] : list
  if (output === 'json' || output === 'yaml') out.write(serialize(value, output))
  else if (output.startsWith('go-template=')) out.write(renderTemplate(output.slice('go-template='.length), value))
  else return false
  return true
}

function nodeSelectorText(o: Obj): string {
  const sel = ((o.spec.template as { spec?: { nodeSelector?: Record<string, string> } } | undefined)?.spec?.nodeSelector) ?? {}
  const parts = Object.entries(sel).map(([k, v]) => `${k}=${v}`)
  return parts.length === 0 ? '<none>' : parts.join(',')
}

interface PodStatusView { revision: string; phase: string; ready: boolean; restarts: number; since: number; lastError?: string; reason?: string }

/** podList builds Pod-like objects from every node record's per-DaemonSet status. */
async function podList(target: AgentTarget, opts: GetOptions): Promise<List> {
  const [dss, nodes] = await Promise.all([call<List>(target, 'GET', '/v1/daemonsets'), call<List>(target, 'GET', '/v1/nodes')])
  const items: Obj[] = []
  for (const node of nodes.items) {
    const pods = (node.status.pods ?? {}) as Record<string, PodStatusView>
    for (const [key, st] of Object.entries(pods)) {
      const ref = parseDsKey(key)
      if (ref === undefined) continue
      const { namespace: ns, name: dsName } = ref
      if (opts.allNamespaces !== true && ns !== (opts.namespace ?? 'default')) continue
      const ds = dss.items.find((d) => d.metadata.namespace === ns && d.metadata.name === dsName)
      const template = ds?.spec.template as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: unknown[] } } | undefined
      items.push({
        metadata: { name: `${dsName}-${node.metadata.name}`, namespace: ns, labels: template?.metadata?.labels ?? {}, creationTimestamp: new Date(st.since).toISOString() },
        spec: { nodeName: node.metadata.name, containers: template?.spec?.containers?.length ?? 1, daemonSet: dsName },
        status: { ...st, nodeState: node.status.state },
      })
    }
  }
  items.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
  return { apiVersion: 'v1', kind: 'List', items }
}

function podStatusText(s: PodStatusView): string {
  if (s.reason !== undefined && s.reason !== '') return s.reason
  const reason = /^(ErrImagePull|ImagePullBackOff|CreateContainerError|PolicyDenied)/.exec(s.lastError ?? '')?.[1]
  return reason ?? s.phase
}

export async function runGet(resourceArg: string, nameArg: string | undefined, opts: GetOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const output = checkOutput(opts.output)
  // kubectl's TYPE/NAME form: `get ds/fluentd`.
  const { resource, name } = splitRef(resourceArg, nameArg)
  if (POD_RESOURCES.has(resource)) {
    const list = await podList(target, opts)
    filterList(list, opts.selector)
    if (name !== undefined) {
      list.items = list.items.filter((i) => i.metadata.name === name)
      if (list.items.length === 0) throw new CliError(`pods "${name}" not found`)
    }
    if (printStructured(list, name, output, out)) return
    if (output === 'name') {
      for (const i of list.items) out.write(`pod/${i.metadata.name}\n`)
      return
    }
    if (list.items.length === 0) {
      out.write(opts.allNamespaces === true ? 'No resources found\n' : `No resources found in ${opts.namespace ?? 'default'} namespace.\n`)
      return
    }
    const wide = output === 'wide'
    const headers = [...(opts.allNamespaces === true ? ['NAMESPACE'] : []), 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'NODE', ...(wide ? ['REVISION', 'LAST ERROR'] : [])]
    const rows = list.items.map((i) => {
      const st = i.status as unknown as PodStatusView
      const n = i.spec.containers as number
      return [
        ...(opts.allNamespaces === true ? [i.metadata.namespace ?? 'default'] : []),
        i.metadata.name,
        `${st.ready ? n : 0}/${n}`,
        podStatusText(st),
        String(st.restarts),
        age(i.metadata.creationTimestamp),
        String(i.spec.nodeName),
        ...(wide ? [st.revision, (st.lastError ?? '<none>').slice(0, 80)] : []),
      ]
    })
    out.write(table(headers, rows))
    return
  }
  if (CM_RESOURCES.has(resource)) return getObjects(CONFIG_MAPS, name, opts, output, target, out)
  if (SECRET_RESOURCES.has(resource)) return getObjects(SECRETS, name, opts, output, target, out)
  if (EVENT_RESOURCES.has(resource)) return runGetEvents(opts, target, out)
  let list: List
  const isDs = DS_RESOURCES.has(resource)
  if (isDs) {
    list = await call<List>(target, 'GET', '/v1/daemonsets')
    if (opts.allNamespaces !== true) list.items = list.items.filter((i) => i.metadata.namespace === (opts.namespace ?? 'default'))
  } else if (NODE_RESOURCES.has(resource)) {
    list = await call<List>(target, 'GET', '/v1/nodes')
  } else {
    throw new UsageError(`get ${resource}: unknown resource type; use ds, pods, nodes, cm or secrets`)
  }
  filterList(list, opts.selector)
  if (name !== undefined) {
    list.items = list.items.filter((i) => i.metadata.name === name)
    if (list.items.length === 0) throw new CliError(`${isDs ? 'daemonsets.apps' : 'nodes'} "${name}" not found`)
  }
  if (printStructured(list, name, output, out)) return
  if (output === 'name') {
    for (const i of list.items) out.write(`${isDs ? 'daemonset.apps' : 'node'}/${i.metadata.name}\n`)
    return
  }
  if (list.items.length === 0) {
    out.write(isDs && opts.allNamespaces !== true ? `No resources found in ${opts.namespace ?? 'default'} namespace.\n` : 'No resources found\n')
    return
  }
  const wide = output === 'wide'
  if (isDs) {
    const headers = [...(opts.allNamespaces === true ? ['NAMESPACE'] : []), 'NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE', ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : [])]
    const rows = list.items.map((i) => {
      const s = i.status as Record<string, number>
      const containers = ((i.spec.template as { spec: { containers: { name: string; image: string }[] } }).spec.containers ?? [])
      const selector = compileSelector(i.spec.selector as never, '').selector.text
      return [
        ...(opts.allNamespaces === true ? [i.metadata.namespace ?? 'default'] : []),
        i.metadata.name,
        String(s.desiredNumberScheduled ?? 0),
        String(s.currentNumberScheduled ?? 0),
        String(s.numberReady ?? 0),
        String(s.updatedNumberScheduled ?? 0),
        String(s.numberAvailable ?? 0),
        nodeSelectorText(i),
        age(i.metadata.creationTimestamp),
        ...(wide ? [containers.map((c) => c.name).join(','), containers.map((c) => c.image).join(','), selector] : []),
      ]
    })
    out.write(table(headers, rows))
    return
  }
  const statusText = (s: string): string => (s === 'Alive' ? 'Ready' : s === 'Unreachable' ? 'NotReady,Unreachable' : s)
  const headers = ['NAME', 'STATUS', 'AGE', 'VERSION', ...(wide ? ['PEER-ID', 'ADDRESS', 'TAINTS'] : [])]
  const rows = list.items.map((i) => {
    const st = i.status as { state: string; startedAt?: string; agentVersion?: string; peerId?: string; addresses?: string[] }
    const taints = ((i.spec.taints as { key: string; value?: string; effect: string }[] | undefined) ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`)
    return [i.metadata.name, statusText(st.state), age(st.startedAt), st.agentVersion ?? '', ...(wide ? [st.peerId ?? '', st.addresses?.[0] ?? '', taints.join(',') || '<none>'] : [])]
  })
  out.write(table(headers, rows))
}

/** ObjectKind is how `get` lists ConfigMaps or Secrets: where, what kubectl calls them, and the columns after NAME. */
interface ObjectKind {
  path: string
  plural: string
  singular: string
  headers: string[]
  columns(item: Record<string, unknown>): string[]
}

const CONFIG_MAPS: ObjectKind = {
  path: '/v1/configmaps',
  plural: 'configmaps',
  singular: 'configmap',
  headers: ['DATA'],
  columns: (i) => [String(Object.keys((i.data as object | undefined) ?? {}).length + Object.keys((i.binaryData as object | undefined) ?? {}).length)],
}

/** Secrets as stored: the data sealed, `sizes` naming the keys (`-o yaml` prints the sealed form, never plaintext). */
const SECRETS: ObjectKind = {
  path: '/v1/secrets',
  plural: 'secrets',
  singular: 'secret',
  headers: ['TYPE', 'DATA'],
  columns: (i) => [String(i.type), String(Object.keys((i.sizes as object | undefined) ?? {}).length)],
}

/** getObjects lists ConfigMaps or Secrets as kubectl does: NAME, DATA (Secrets: TYPE too), AGE. */
async function getObjects(kind: ObjectKind, name: string | undefined, opts: GetOptions, output: string, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const list = await call<List>(target, 'GET', kind.path)
  const ns = opts.namespace ?? 'default'
  if (opts.allNamespaces !== true) list.items = list.items.filter((i) => i.metadata.namespace === ns)
  filterList(list, opts.selector)
  if (name !== undefined) {
    list.items = list.items.filter((i) => i.metadata.name === name)
    if (list.items.length === 0) throw new CliError(notFound(kind.plural, name, ns))
  }
  if (printStructured(list, name, output, out)) return
  if (output === 'name') {
    for (const i of list.items) out.write(`${kind.singular}/${i.metadata.name}\n`)
    return
  }
  if (list.items.length === 0) {
    out.write(opts.allNamespaces === true ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`)
    return
  }
  const rows = list.items.map((i) => [...(opts.allNamespaces === true ? [i.metadata.namespace ?? 'default'] : []), i.metadata.name, ...kind.columns(i as unknown as Record<string, unknown>), age(i.metadata.creationTimestamp)])
  out.write(table([...(opts.allNamespaces === true ? ['NAMESPACE'] : []), 'NAME', ...kind.headers, 'AGE'], rows))
}
