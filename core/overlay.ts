// Node overlays: labels and taints an operator sets on a node (`label node`, `taint
// node`), stored as signed envelopes under `nodes/NAME` (StoreKey.overlay) and applied by
// that node's agent over the labels and taints of its own configuration. No I/O here.

import { z } from 'zod'
import { taintSchema } from './schema.js'
import type { StringMap, Taint } from './types.js'

/** NodeOverlay: labels set, label keys removed, taints added, taints (key:effect) removed. */
export interface NodeOverlay {
  labels: StringMap
  removeLabels: string[]
  taints: Taint[]
  removeTaints: { key: string; effect: string }[]
}

export const nodeOverlaySchema = z
  .object({
    labels: z.record(z.string().max(317), z.string().max(63)),
    removeLabels: z.array(z.string().max(317)).max(256),
    taints: z.array(taintSchema).max(64),
    removeTaints: z.array(z.object({ key: z.string().max(317), effect: z.string().max(32) }).strict()).max(64),
  })
  .strict()

export const EMPTY_OVERLAY: NodeOverlay = { labels: {}, removeLabels: [], taints: [], removeTaints: [] }

/** applyOverlay returns the labels and taints a node has once the operator's overlay is applied. */
export function applyOverlay(own: { labels: StringMap; taints: Taint[] }, overlay: NodeOverlay | undefined): { labels: StringMap; taints: Taint[] } {
  if (overlay === undefined) return { labels: { ...own.labels }, taints: own.taints.map((t) => ({ ...t })) }
  const labels: StringMap = { ...own.labels, ...overlay.labels }
  for (const k of overlay.removeLabels) delete labels[k]
  const removed = (t: Taint): boolean => overlay.removeTaints.some((r) => r.key === t.key && r.effect === t.effect)
  const overlaid = new Set(overlay.taints.map((t) => `${t.key}:${t.effect}`))
  const taints = [...own.taints.filter((t) => !overlaid.has(`${t.key}:${t.effect}`)), ...overlay.taints].filter((t) => !removed(t))
  return { labels, taints: taints.map((t) => ({ ...t })) }
}
