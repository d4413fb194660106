// Node overlays: labels and taints an operator sets on a node (`label node`, `taint
// node`), stored as signed envelopes under `nodes/NAME` (StoreKey.overlay) and applied by
// that node's agent over the labels and taints of its own configuration. No I/O here.

import { z } from 'zod'
import { taintSchema } from './schema.js'
import { validateLabels } from './selector.js'
import { validateTaint } from './taints.js'
import type { StringMap, Taint } from './types.js'

/**
 * MAX_OVERLAY_LABELS bounds the labels an overlay sets: with the node's own labels the
 * record must stay within its 256 labels, or the node's own record would fail validation
 * everywhere.
 */
export const MAX_OVERLAY_LABELS = 128

/** NodeOverlay: labels set, label keys removed, taints added, taints (key:effect) removed. */
export interface NodeOverlay {
  labels: StringMap
  removeLabels: string[]
  taints: Taint[]
  removeTaints: { key: string; effect: string }[]
}

/**
 * nodeOverlaySchema checks an overlay with the node record's own rules, so an overlay that
 * is stored can never make the node's record invalid: label keys and values as
 * validateLabels (at most MAX_OVERLAY_LABELS), taints as validateTaint (key, value, and an
 * effect of NoSchedule, PreferNoSchedule or NoExecute), everything bounded.
 */
export const nodeOverlaySchema = z
  .object({
    labels: z.record(z.string().max(317), z.string().max(63)).refine((l) => Object.keys(l).length <= MAX_OVERLAY_LABELS, `at most ${MAX_OVERLAY_LABELS} labels`),
    removeLabels: z.array(z.string().max(317)).max(256),
    taints: z.array(taintSchema).max(64),
    removeTaints: z.array(z.object({ key: z.string().max(317), effect: z.string().max(32) }).strict()).max(64),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const i of validateLabels(o.labels, 'labels')) ctx.addIssue({ code: 'custom', path: i.path.split('.'), message: i.message })
    o.taints.forEach((t, n) => {
      for (const i of validateTaint(t as Taint, `taints[${n}]`)) ctx.addIssue({ code: 'custom', path: [i.path], message: i.message })
    })
  })

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
