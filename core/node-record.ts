// Node records: what each agent tells the fleet about its host, signed by the host's own
// key. Shared by agent (membership) and CLI (get nodes). No I/O here.

import { z } from 'zod'
import { MAX_WALL_MS, checkNotAhead } from './bounds.js'
import { joinSchema } from './node-admission.js'
import type { FieldIssue } from './errors.js'
import { dns1123Subdomain } from './names.js'
import { taintSchema } from './schema.js'
import { validateLabels } from './selector.js'
import { MAX_RECORD_EVENTS, podEventSchema } from './events.js'
import { SLOT_KINDS } from './lease.js'
import { validateTaint } from './taints.js'
import type { NodeInfo, Taint } from './types.js'

/**
 * MAX_UNKNOWN_FIELDS bounds the fields of a later version a record object may carry (per
 * object; the whole record is bounded by MAX_ENVELOPE_BYTES). Since 0.2.0, records of newer
 * agents with fields this version does not know are accepted, kept verbatim (they are signed)
 * and those fields ignored: docs/compatibility.md.
 */
export const MAX_UNKNOWN_FIELDS = 16

/** tolerant accepts up to MAX_UNKNOWN_FIELDS fields beyond `shape`, passed through as they are. */
function tolerant<T extends z.ZodRawShape>(shape: T) {
  return z
    .object(shape)
    .passthrough()
    .superRefine((v, ctx) => {
      const extra = Object.keys(v).filter((k) => !Object.hasOwn(shape, k))
      if (extra.length > MAX_UNKNOWN_FIELDS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at most ${MAX_UNKNOWN_FIELDS} fields of later versions (${extra.length}: ${extra.slice(0, 3).join(', ')}, …)` })
    })
}

/** wallMs is a wall time in ms: an integer from 0 to MAX_WALL_MS (year 2109), so it is always a valid Date. */
const wallMs = z.number().int().min(0).max(MAX_WALL_MS)

/** PodStatus is one DaemonSet's copy on one node, as that node reports it. */
export const podStatusSchema = tolerant({
  revision: z.string().max(64),
  phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']),
  ready: z.boolean(),
  restarts: z.number().int().min(0).max(2 ** 31),
  since: wallMs,
  readySince: wallMs.optional(),
  /** Ready for minReadySeconds, judged by the host on its own monotonic clock (no clock skew). */
  available: z.boolean().optional(),
  lastError: z.string().max(1024).optional(),
  /** Why the copy is not running as it should, as `kubectl get pods` shows it (CrashLoopBackOff, Init:1/2, Init:Error, …). */
  reason: z.string().max(64).optional(),
  /** Why this host's update to the current revision waits (for its turn, or for an update slot). */
  waiting: z.string().max(300).optional(),
  /** The update slot this host holds for its copy (granted or acting): how hosts off the DaemonSet's committee see the busy slots (docs/rollout.md). */
  updateSlot: z.object({ kind: z.enum(SLOT_KINDS), slot: z.number().int().min(0).max(100_000), term: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }).strict().optional(),
})

export type PodStatus = z.infer<typeof podStatusSchema>

/**
 * withoutNotes returns the copies' statuses without what only people read about them (each
 * copy's `waiting` reason): two records whose copies differ only there agree on every copy's
 * revision, readiness and update slot, which is all other hosts decide on.
 */
export function withoutNotes(pods: Record<string, PodStatus>): Record<string, Omit<PodStatus, 'waiting'>> {
  return Object.fromEntries(Object.entries(pods).map(([k, { waiting: _waiting, ...rest }]) => [k, rest]))
}

/**
 * WorkerStatus is what one copy's worker on a node is doing (`Stopping (grace 30 s)`), or the
 * failure it backs off from, since when (wall ms). Only busy workers and back-offs are reported.
 */
export const workerStatusSchema = tolerant({
  doing: z.string().max(200),
  since: wallMs,
})

export type WorkerStatus = z.infer<typeof workerStatusSchema>

const conditionSchema = tolerant({ type: z.string().max(64), status: z.enum(['True', 'False', 'Unknown']), reason: z.string().max(128).optional(), message: z.string().max(1024).optional() })

/** nodeRecordSchema bounds every field: records arrive from peers. */
export const nodeRecordSchema = tolerant({
  name: z.string().min(1).max(253),
  peerId: z.string().min(1).max(128),
  addresses: z.array(z.string().max(256)).max(32),
  labels: z.record(z.string().max(317), z.string().max(63)).refine((l) => Object.keys(l).length <= 256, 'at most 256 labels'),
  taints: z.array(taintSchema).max(64),
  conditions: z.array(conditionSchema).max(32),
  version: z.string().max(64),
  state: z.enum(['alive', 'left']),
  startedAt: wallMs,
  /** Raised only by the node itself, to refute a suspicion of it (SWIM; core/swim.ts). Starts at 0 with each process. */
  incarnation: z.number().int().min(0).max(2 ** 31),
  pods: z.record(z.string().max(317), podStatusSchema).refine((p) => Object.keys(p).length <= 1024, 'at most 1024 pods'),
  /** The host's most recent events (core/events.ts); absent when there are none. */
  events: z.array(podEventSchema).max(MAX_RECORD_EVENTS).optional(),
  /** Busy pod workers by DaemonSet (key form); absent when none is busy. */
  workers: z.record(z.string().max(317), workerStatusSchema).refine((w) => Object.keys(w).length <= 1024, 'at most 1024 workers').optional(),
  /** The host's address as its pods see it (`status.hostIP`; core/host-ip.ts chooses it). */
  hostIP: z.string().ip().optional(),
  /** What the host has: cores and bytes of memory (the downward API's limits when a container sets none). */
  capacity: tolerant({ cpu: z.number().int().min(1).max(65_536), memory: z.number().int().min(0).max(2 ** 53) }).optional(),
  /** A join token the host joins with, and when it first did (core/node-admission.ts). */
  join: joinSchema.optional(),
})

export type NodeRecord = z.infer<typeof nodeRecordSchema>

/** checkNodeRecord validates a record from outside; returns the problems (empty when valid). */
export function checkNodeRecord(value: unknown): FieldIssue[] {
  const res = nodeRecordSchema.safeParse(value)
  if (!res.success) return res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
  const issues: FieldIssue[] = []
  for (const p of dns1123Subdomain(res.data.name)) issues.push({ path: 'name', message: p })
  issues.push(...validateLabels(res.data.labels, 'labels'))
  res.data.taints.forEach((t, i) => issues.push(...validateTaint(t as Taint, `taints[${i}]`)))
  return issues
}

/** recordTimes lists a record's wall times by field path: what may not run ahead of a receiver's clock. */
function* recordTimes(r: NodeRecord): Generator<[string, number | undefined]> {
  yield ['startedAt', r.startedAt]
  for (const [ds, p] of Object.entries(r.pods)) {
    yield [`pods.${ds}.since`, p.since]
    yield [`pods.${ds}.readySince`, p.readySince]
  }
  for (const [ds, w] of Object.entries(r.workers ?? {})) yield [`workers.${ds}.since`, w.since]
}

/** checkRecordTimes says which time of a (valid) record is more than 60 s ahead of `nowMs`, or undefined. */
export function checkRecordTimes(r: NodeRecord, nowMs: number): string | undefined {
  return checkNotAhead(recordTimes(r), nowMs)
}

/** nodeInfoOf turns a record into what placement and the pod plan need: its host IP is the InternalIP address, as on a Kubernetes node. */
export function nodeInfoOf(r: NodeRecord): NodeInfo {
  return {
    name: r.name,
    labels: { ...r.labels },
    taints: r.taints.map((t) => ({ ...t }) as Taint),
    conditions: r.conditions.map((c) => ({ ...c })),
    addresses: [...(r.hostIP === undefined ? [] : [{ type: 'InternalIP', address: r.hostIP }]), ...r.addresses.map((a) => ({ type: 'Multiaddr', address: a }))],
    ...(r.capacity === undefined ? {} : { capacity: { ...r.capacity } }),
  }
}
