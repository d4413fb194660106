// Revision history of a DaemonSet (what Kubernetes keeps as ControllerRevisions): one
// signed store entry per DaemonSet, `history/NAMESPACE/NAME` (StoreKey.history), listing
// its templates with a revision number each. The CLI appends on every write that changes
// the template; `rollout history` lists it and `rollout undo` writes an older template
// back. No I/O here.

import { z } from 'zod'
import { revisionOf, templateHash } from './revision.js'
import type { DaemonSet, PodTemplateSpec } from './types.js'

export const CHANGE_CAUSE = 'kubernetes.io/change-cause'

const entrySchema = z
  .object({
    revision: z.number().int().min(1),
    hash: z.string().min(1).max(64),
    template: z.record(z.unknown()),
    changeCause: z.string().max(1024).optional(),
    /** When it became the current template (ms since epoch, the writer's clock). */
    at: z.number().int().min(0),
  })
  .strict()

/** historySchema bounds a stored history: it arrives from the store and from peers. */
export const historySchema = z.object({ revisions: z.array(entrySchema).max(1001) }).strict()

export type HistoryEntry = z.infer<typeof entrySchema>
export type History = z.infer<typeof historySchema>

/**
 * recordRevision returns the history with `ds`'s template as the newest revision: unchanged
 * when it already is; an older entry with the same template moves to the new number (as
 * Kubernetes does on undo). Keeps revisionHistoryLimit old revisions (default 10) besides the
 * current one.
 */
export function recordRevision(history: History | undefined, ds: DaemonSet, at: number): History {
  const list = [...(history?.revisions ?? [])].sort((a, b) => a.revision - b.revision)
  const hash = revisionOf(ds)
  if (list.at(-1)?.hash === hash) return { revisions: list }
  const next = (list.at(-1)?.revision ?? 0) + 1
  const cause = ds.metadata.annotations?.[CHANGE_CAUSE]
  const kept = list.filter((e) => e.hash !== hash)
  kept.push({ revision: next, hash, template: ds.spec.template as unknown as Record<string, unknown>, ...(cause === undefined ? {} : { changeCause: cause }), at })
  const limit = ds.spec.revisionHistoryLimit ?? 10
  return { revisions: kept.slice(Math.max(0, kept.length - limit - 1)) }
}

/**
 * undoTarget picks the template `rollout undo` writes: revision `to`, or (0) the one before
 * the current. Returns an error message when there is none.
 */
export function undoTarget(history: History | undefined, current: DaemonSet, to: number): { entry?: HistoryEntry; error?: string } {
  const list = [...(history?.revisions ?? [])].sort((a, b) => a.revision - b.revision)
  const hash = revisionOf(current)
  if (to > 0) {
    const entry = list.find((e) => e.revision === to)
    if (entry === undefined) return { error: `unable to find specified revision ${to} in history` }
    return { entry }
  }
  const older = list.filter((e) => e.hash !== hash)
  const entry = older.at(-1)
  return entry === undefined ? { error: 'no rollout history found' } : { entry }
}

/** withTemplate returns `ds` with the template of a history entry (checked against its hash). */
export function withTemplate(ds: DaemonSet, entry: HistoryEntry): DaemonSet {
  const template = structuredClone(entry.template) as unknown as PodTemplateSpec
  if (templateHash(template) !== entry.hash) throw new Error(`revision ${entry.revision}: its template does not match its hash ${entry.hash}`)
  return { ...ds, spec: { ...ds.spec, template } }
}
