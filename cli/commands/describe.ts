// `daemonmesh describe ds NAME` and `describe node NAME`: what kubectl describe shows, plus
// what it never did: why a DaemonSet is not on a node, and which of its fields the agents
// do not honour (the warnings `check` and `apply` print, from core/bundle.ts).

import { daemonSetWarnings } from '../../core/bundle.js'
import { configMapsUsedBy, type ConfigMap } from '../../core/configmap.js'
import { secretsUsedBy, type Secret } from '../../core/secret.js'
import { shouldRun } from '../../core/eligibility.js'
import { formatIssue } from '../../core/errors.js'
import type { DaemonSet } from '../../core/types.js'
import { dsRef, refOf, type DsRef } from '../../core/keyspace.js'
import { revisionOf } from '../../core/revision.js'
import { compileSelector } from '../../core/selector.js'
import { taintText } from '../../core/taints.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { fleetNodes, liveDaemonSets, nodeAddress } from '../fleet.js'
import { age } from '../format.js'
import { EVENT_HEADERS, eventRows, fleetEvents, type NodeEvent } from './events.js'
import { table } from '../table.js'
import { CM_RESOURCES, DS_RESOURCES, NODE_RESOURCES, SECRET_RESOURCES, notFound, splitRef } from '../resources.js'

const kv = (m: Record<string, string> | undefined): string => {
  const e = Object.entries(m ?? {})
  return e.length === 0 ? '<none>' : e.map(([k, v]) => `${k}=${v}`).join('\n                ')
}
const line = (label: string, value: string): string => `${`${label}:`.padEnd(Math.max(16, label.length + 2))}${value}\n`

export async function runDescribe(resourceArg: string, nameArg: string | undefined, opts: { namespace?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const { resource, name } = splitRef(resourceArg, nameArg)
  if (name === undefined || name === '') throw new UsageError(`describe ${resource}: give a name`)
  if (DS_RESOURCES.has(resource)) return describeDs(dsRef(opts.namespace, name), target, out)
  if (NODE_RESOURCES.has(resource)) return describeNode(name, target, out)
  if (CM_RESOURCES.has(resource)) return describeConfigMap(dsRef(opts.namespace, name), target, out)
  if (SECRET_RESOURCES.has(resource)) return describeSecret(dsRef(opts.namespace, name), target, out)
  throw new UsageError(`describe ${resource}: unknown resource type; use ds, node, cm or secret`)
}

async function describeDs(ref: DsRef, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const [dss, nodes] = await Promise.all([liveDaemonSets(target), fleetNodes(target)])
  const ds = dss.find((d) => refOf(d).key === ref.key)
  if (ds === undefined) throw new CliError(notFound('daemonsets.apps', ref.name, ref.namespace))
  const s = ds.status as Record<string, number> & { pods: { running: number; waiting: number; succeeded: number; failed: number } }
  const strategy = ds.spec.updateStrategy
  const strategyText = strategy?.type === 'RollingUpdate' ? `RollingUpdate (maxUnavailable ${String(strategy.rollingUpdate?.maxUnavailable)}, maxSurge ${String(strategy.rollingUpdate?.maxSurge)})` : String(strategy?.type)
  let text = ''
  text += line('Name', ds.metadata.name)
  text += line('Namespace', ds.metadata.namespace ?? 'default')
  text += line('Image(s)', ds.spec.template.spec.containers.map((c) => c.image).join(','))
  text += line('Selector', compileSelector(ds.spec.selector, '').selector.text)
  text += line('Node-Selector', kv(ds.spec.template.spec.nodeSelector).replaceAll('\n                ', ','))
  text += line('Labels', kv(ds.metadata.labels))
  text += line('Update Strategy', strategyText)
  text += line('Revision', revisionOf(ds))
  text += `Desired Number of Nodes Scheduled: ${s.desiredNumberScheduled}\n`
  text += `Current Number of Nodes Scheduled: ${s.currentNumberScheduled}\n`
  text += `Number of Nodes Scheduled with Up-to-date Pods: ${s.updatedNumberScheduled}\n`
  text += `Number of Nodes Scheduled with Available Pods: ${s.numberAvailable}\n`
  text += `Number of Nodes Misscheduled: ${s.numberMisscheduled}\n`
  text += line('Pods Status', `${s.pods.running} Running / ${s.pods.waiting} Waiting / ${s.pods.succeeded} Succeeded / ${s.pods.failed} Failed`)
  // What the agents run without: the fields `check` and `apply` warned about.
  const warnings = daemonSetWarnings(ds)
  text += 'Not honoured by the agents:\n' + (warnings.length === 0 ? '  <none>\n' : warnings.map((w) => `  ${formatIssue(w)}\n`).join(''))
  const rows = nodes.map((n) => {
    const pod = n.pods[ref.key]
    const v = shouldRun(n.info, ds)
    const status = pod === undefined ? (v.shouldRun ? 'Missing' : '-') : `${pod.phase}${pod.ready ? '' : ' (not ready)'}`
    return [n.info.name, status, pod?.revision ?? '-', v.shouldRun ? '' : v.reasons.join('; ')]
  })
  text += 'Nodes:\n' + table(['  NODE', 'POD', 'REVISION', 'WHY NOT HERE'], rows.map((r) => [`  ${r[0] ?? ''}`, ...r.slice(1)]))
  // A rollout in progress: the hosts still on an older revision, and why each waits.
  const waiting = nodes.flatMap((n) => {
    const pod = n.pods[ref.key]
    return pod?.waiting === undefined || pod.revision === revisionOf(ds) ? [] : [[`  ${n.info.name}`, pod.revision, pod.waiting]]
  })
  if (waiting.length > 0) text += 'Rollout (hosts waiting to update):\n' + table(['  NODE', 'REVISION', 'WAITING FOR'], waiting)
  const errors = nodes.flatMap((n) => {
    const pod = n.pods[ref.key]
    return pod?.lastError === undefined ? [] : [[new Date(pod.since).toISOString(), n.info.name, pod.lastError.slice(0, 120)]]
  })
  if (errors.length > 0) text += 'Last errors:\n' + table(['  SINCE', 'NODE', 'MESSAGE'], errors.map((e) => [`  ${e[0] ?? ''}`, e[1] ?? '', e[2] ?? '']))
  const events = (await fleetEvents(target)).filter((e) => e.ds === ref.key)
  text += eventsText(events)
  out.write(text)
}

/** eventsText is describe's Events section: kubectl's columns, oldest first. */
function eventsText(events: readonly NodeEvent[]): string {
  if (events.length === 0) return 'Events:\n  <none>\n'
  return 'Events:\n' + table(EVENT_HEADERS.map((h, i) => (i === 0 ? `  ${h}` : h)), eventRows(events, false).map((r) => [`  ${r[0] ?? ''}`, ...r.slice(1)]))
}

async function describeNode(name: string, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const [dss, nodes] = await Promise.all([liveDaemonSets(target), fleetNodes(target, true)])
  const n = nodes.find((x) => x.info.name === name)
  if (n === undefined) throw new CliError(`nodes "${name}" not found`)
  let text = ''
  text += line('Name', n.info.name)
  text += line('Status', n.state)
  text += line('Labels', kv(n.info.labels))
  text += line('Taints', n.info.taints.length === 0 ? '<none>' : n.info.taints.map(taintText).join('\n                '))
  text += line('Address', nodeAddress(n.addresses))
  text += line('InternalIP', n.hostIP ?? '<none>')
  text += line('Agent', n.version)
  text += 'Conditions:\n' + table(['  TYPE', 'STATUS', 'REASON', 'MESSAGE'], n.conditions.map((c) => [`  ${c.type}`, c.status, c.reason ?? '', (c.message ?? '').slice(0, 80)]))
  const here: string[][] = []
  const notHere: string[][] = []
  for (const ds of dss) {
    const { key } = refOf(ds)
    const pod = n.pods[key]
    const v = shouldRun(n.info, ds)
    if (pod !== undefined) here.push([`  ${key}`, pod.phase, pod.ready ? 'true' : 'false', String(pod.restarts), pod.revision, pod.lastError ?? ''])
    else if (!v.shouldRun) notHere.push([`  ${key}`, v.reasons.join('; ')])
    else notHere.push([`  ${key}`, 'should run here; no copy reported yet'])
  }
  text += 'Daemons:\n' + (here.length === 0 ? '  <none>\n' : table(['  DAEMONSET', 'PHASE', 'READY', 'RESTARTS', 'REVISION', 'LAST ERROR'], here))
  text += 'Not running here:\n' + (notHere.length === 0 ? '  <none>\n' : table(['  DAEMONSET', 'WHY'], notHere))
  // What the node's pod workers are doing now (as of its last record): stopping, starting, backing off.
  const workers = Object.entries(n.workers).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, w]) => [`  ${key}`, w.doing, age(new Date(w.since).toISOString())])
  text += 'Workers:\n' + (workers.length === 0 ? '  <all idle>\n' : table(['  DAEMONSET', 'DOING', 'FOR'], workers))
  text += eventsText((await fleetEvents(target)).filter((e) => e.node === name))
  out.write(text)
}

/** describeConfigMap prints a ConfigMap as kubectl does (keys in byte order, binary keys by size), and the DaemonSets whose pods use it. */
async function describeConfigMap(ref: DsRef, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const [list, dss] = await Promise.all([call<{ items: ConfigMap[] }>(target, 'GET', '/v1/configmaps'), liveDaemonSets(target)])
  const cm = list.items.find((c) => c.metadata.namespace === ref.namespace && c.metadata.name === ref.name)
  if (cm === undefined) throw new CliError(notFound('configmaps', ref.name, ref.namespace))
  let text = objectHeader(cm)
  text += '\nData\n====\n'
  for (const [k, v] of Object.entries(cm.data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) text += `${k}:\n----\n${v}${v.endsWith('\n') ? '' : '\n'}\n`
  text += '\nBinaryData\n====\n'
  for (const [k, v] of Object.entries(cm.binaryData ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) text += `${k}: ${Buffer.from(v, 'base64').length} bytes\n`
  text += '\n' + line('Used by', usedBy(dss, ref, configMapsUsedBy))
  out.write(text)
}

/** objectHeader is the first lines kubectl prints of a ConfigMap or a Secret: name, namespace, labels, annotations, immutability. */
function objectHeader(o: { metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> }; immutable?: boolean }): string {
  const text = line('Name', o.metadata.name) + line('Namespace', o.metadata.namespace) + line('Labels', kv(o.metadata.labels)) + line('Annotations', kv(o.metadata.annotations))
  return o.immutable === true ? text + line('Immutable', 'true') : text
}

/** usedBy lists the DaemonSets of ref's namespace whose pods use the object ref names. */
function usedBy(dss: readonly DaemonSet[], ref: DsRef, uses: (d: DaemonSet) => Set<string>): string {
  const users = dss.filter((d) => (d.metadata.namespace ?? 'default') === ref.namespace && uses(d).has(ref.name)).map((d) => `daemonset.apps/${d.metadata.name}`)
  return users.length === 0 ? '<none>' : users.join(', ')
}

/** describeSecret prints a Secret as kubectl does: its type and each key with its size, never a value; and the key that sealed it, and the DaemonSets that use it. */
async function describeSecret(ref: DsRef, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const [list, dss] = await Promise.all([call<{ items: Secret[] }>(target, 'GET', '/v1/secrets'), liveDaemonSets(target)])
  const secret = list.items.find((c) => c.metadata.namespace === ref.namespace && c.metadata.name === ref.name)
  if (secret === undefined) throw new CliError(notFound('secrets', ref.name, ref.namespace))
  let text = objectHeader(secret)
  text += `\nType:  ${secret.type}\n\nData\n====\n`
  for (const [k, n] of Object.entries(secret.sizes).sort(([a], [b]) => (a < b ? -1 : 1))) text += `${k}:  ${n} bytes\n`
  text += '\n' + line('Sealed with', `secret key ${secret.sealed.keyId}`)
  text += line('Used by', usedBy(dss, ref, secretsUsedBy))
  out.write(text)
}
