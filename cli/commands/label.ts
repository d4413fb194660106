// `daemonmesh label node NAME k=v… | k-` and `taint node NAME k=v:Effect… | k:Effect-`:
// signed node overlays, applied by that node's agent over its configured labels and taints.

import { StoreKey } from '../../core/keyspace.js'
import { EMPTY_OVERLAY, type NodeOverlay } from '../../core/overlay.js'
import { labelValue, qualifiedName } from '../../core/names.js'
import { parseTaint } from '../../core/taints.js'
import type { TaintEffect } from '../../core/types.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { fleetNodes } from '../fleet.js'
import { NODE_RESOURCES } from '../resources.js'
import { current, currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'

export interface OverlayOptions {
  overwrite?: boolean
  key?: string
}

async function load(target: AgentTarget, resource: string, node: string | undefined): Promise<{ node: string; overlay: NodeOverlay; labels: Record<string, string>; taints: { key: string; value?: string; effect: string }[]; prev: Awaited<ReturnType<typeof current>> }> {
  if (!NODE_RESOURCES.has(resource)) throw new UsageError(`${resource}: only nodes can be labelled or tainted here`)
  if (node === undefined) throw new UsageError('give the node name')
  const n = (await fleetNodes(target, true)).find((x) => x.info.name === node)
  if (n === undefined) throw new CliError(`nodes "${node}" not found`)
  const prev = await currentForWrite(target, StoreKey.overlay(node))
  const overlay = prev?.op === 'put' ? (structuredClone(prev.value) as NodeOverlay) : structuredClone(EMPTY_OVERLAY)
  return { node, overlay, labels: n.info.labels, taints: n.info.taints, prev }
}

export async function runLabel(resource: string, node: string | undefined, changes: string[], opts: OverlayOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (changes.length === 0) throw new UsageError('label: give at least one KEY=VALUE or KEY-')
  const parsed = changes.map((c) => {
    if (c.endsWith('-') && !c.includes('=')) return { key: c.slice(0, -1), remove: true as const }
    const eq = c.indexOf('=')
    if (eq <= 0) throw new UsageError(`label ${c}: use KEY=VALUE or KEY-`)
    return { key: c.slice(0, eq), value: c.slice(eq + 1), remove: false as const }
  })
  for (const p of parsed) {
    const bad = [...qualifiedName(p.key), ...(p.remove ? [] : labelValue(p.value))]
    if (bad.length > 0) throw new UsageError(`label ${p.key}: ${bad[0] ?? ''}`)
  }
  const privateKey = loadOperatorKey(opts.key)
  const s = await load(target, resource, node)
  for (const p of parsed) {
    if (p.remove) {
      delete s.overlay.labels[p.key]
      if (!s.overlay.removeLabels.includes(p.key)) s.overlay.removeLabels.push(p.key)
    } else {
      const have = s.labels[p.key]
      if (have !== undefined && have !== p.value && opts.overwrite !== true) throw new CliError(`'${p.key}' already has a value (${have}), and --overwrite is false`)
      s.overlay.labels[p.key] = p.value
      s.overlay.removeLabels = s.overlay.removeLabels.filter((k) => k !== p.key)
    }
  }
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, StoreKey.overlay(s.node), s.overlay, s.prev, privateKey))
  out.write(`node/${s.node} ${parsed.every((p) => p.remove) ? 'unlabeled' : 'labeled'}\n`)
}

export async function runTaint(resource: string, node: string | undefined, changes: string[], opts: OverlayOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (changes.length === 0) throw new UsageError('taint: give at least one KEY[=VALUE]:EFFECT or KEY:EFFECT-')
  const parsed = changes.map((c) => {
    if (c.endsWith('-')) {
      const m = /^([^=:]+)(?::(NoSchedule|PreferNoSchedule|NoExecute))?-$/.exec(c)
      if (m === null) throw new UsageError(`taint ${c}: use KEY:EFFECT- (or KEY- for every effect)`)
      return { remove: true as const, key: m[1] ?? '', effect: m[2] }
    }
    const r = parseTaint(c)
    if (r.taint === undefined) throw new UsageError(r.issues[0]?.message ?? `taint ${c}: invalid`)
    return { remove: false as const, taint: r.taint }
  })
  const privateKey = loadOperatorKey(opts.key)
  const s = await load(target, resource, node)
  for (const p of parsed) {
    if (p.remove) {
      const matching = s.taints.filter((t) => t.key === p.key && (p.effect === undefined || t.effect === p.effect))
      if (matching.length === 0) throw new CliError(`taint "${p.key}${p.effect === undefined ? '' : `:${p.effect}`}" not found on node ${s.node}`)
      s.overlay.taints = s.overlay.taints.filter((t) => !(t.key === p.key && (p.effect === undefined || t.effect === p.effect)))
      for (const t of matching) if (!s.overlay.removeTaints.some((r) => r.key === t.key && r.effect === t.effect)) s.overlay.removeTaints.push({ key: t.key, effect: t.effect })
    } else {
      const t = p.taint
      const have = s.taints.find((x) => x.key === t.key && x.effect === t.effect)
      if (have !== undefined && (have.value ?? '') !== (t.value ?? '') && opts.overwrite !== true) throw new CliError(`node ${s.node} already has a taint with key (${t.key}) and effect (${t.effect}), and --overwrite is false`)
      s.overlay.taints = [...s.overlay.taints.filter((x) => !(x.key === t.key && x.effect === t.effect)), t]
      s.overlay.removeTaints = s.overlay.removeTaints.filter((r) => !(r.key === t.key && r.effect === (t.effect as TaintEffect)))
    }
  }
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, StoreKey.overlay(s.node), s.overlay, s.prev, privateKey))
  out.write(`node/${s.node} ${parsed.every((p) => p.remove) ? 'untainted' : 'tainted'}\n`)
}
