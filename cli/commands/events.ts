// `get events [-w] [--for ds/NAME]`: the events every host reports in its node record
// (core/events.ts), as kubectl prints them: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE, oldest
// first. The object is the copy's pod (`pod/NAME-NODE`). -w prints them, then every new or
// recounted one as the agent's view of the fleet changes (polled every second).

import type { PodEvent } from '../../core/events.js'
import { parseDsKey } from '../../core/keyspace.js'
import { call, type AgentTarget } from '../client.js'
import { UsageError } from '../errors.js'
import { age } from '../format.js'
import { DS_RESOURCES, splitRef } from '../resources.js'
import { table } from '../table.js'

/** NodeEvent is one event with the node that reported it. */
export interface NodeEvent extends PodEvent {
  node: string
}

interface NodeObj {
  metadata: { name: string }
  status: { events?: PodEvent[] }
}

export interface EventOptions {
  namespace?: string
  allNamespaces?: boolean
  watch?: boolean
  for?: string
}

/** fleetEvents returns every host's reported events, oldest first. */
export async function fleetEvents(target: AgentTarget): Promise<NodeEvent[]> {
  const list = await call<{ items: NodeObj[] }>(target, 'GET', '/v1/nodes')
  return list.items.flatMap((n) => (n.status.events ?? []).map((e) => ({ ...e, node: n.metadata.name }))).sort((a, b) => a.last - b.last)
}

/** eventRows formats events as kubectl's columns (OBJECT is the copy's pod). */
export function eventRows(events: readonly NodeEvent[], withNamespace: boolean, now = Date.now()): string[][] {
  return events.map((e) => {
    const ref = parseDsKey(e.ds)
    const last = age(new Date(e.last).toISOString(), now)
    return [
      ...(withNamespace ? [ref?.namespace ?? ''] : []),
      e.count > 1 ? `${last} (x${e.count} over ${age(new Date(e.first).toISOString(), now)})` : last,
      e.type,
      e.reason,
      `pod/${ref?.name ?? e.ds}-${e.node}`,
      e.message,
    ]
  })
}

/** EVENT_HEADERS are kubectl's. */
export const EVENT_HEADERS = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']

/** filterFor keeps the events of one DaemonSet (`--for ds/NAME`) and of the namespace asked for. */
function filterFor(events: NodeEvent[], opts: EventOptions): NodeEvent[] {
  let out = events
  if (opts.allNamespaces !== true) out = out.filter((e) => parseDsKey(e.ds)?.namespace === (opts.namespace ?? 'default'))
  if (opts.for !== undefined) {
    const { resource, name } = splitRef(opts.for, undefined)
    if (!DS_RESOURCES.has(resource) || name === undefined || name === '') throw new UsageError(`--for ${opts.for}: give ds/NAME`)
    out = out.filter((e) => parseDsKey(e.ds)?.name === name)
  }
  return out
}

export async function runGetEvents(opts: EventOptions, target: AgentTarget, out: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  const ns = opts.allNamespaces === true
  const headers = [...(ns ? ['NAMESPACE'] : []), ...EVENT_HEADERS]
  const first = filterFor(await fleetEvents(target), opts)
  if (first.length === 0 && opts.watch !== true) {
    out.write(ns ? 'No resources found\n' : `No resources found in ${opts.namespace ?? 'default'} namespace.\n`)
    return
  }
  const lines = table(headers, eventRows(first, ns)).split('\n')
  out.write(`${(first.length === 0 ? [lines[0] ?? ''] : lines.filter((l) => l !== '')).join('\n')}\n`)
  if (opts.watch !== true) return
  // Seen: each event by node, DaemonSet, reason, message, with the count printed last.
  const key = (e: NodeEvent): string => `${e.node}\u0000${e.ds}\u0000${e.reason}\u0000${e.message}`
  const seen = new Map(first.map((e) => [key(e), e.count]))
  while (signal?.aborted !== true) {
    await new Promise((r) => setTimeout(r, 1000))
    const now = filterFor(await fleetEvents(target), opts).filter((e) => seen.get(key(e)) !== e.count)
    for (const e of now) seen.set(key(e), e.count)
    if (now.length > 0) {
      const rows = table(headers, eventRows(now, ns)).split('\n').slice(1).filter((l) => l !== '')
      out.write(`${rows.join('\n')}\n`)
    }
  }
}
