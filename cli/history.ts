// Writing a DaemonSet with its revision history: every CLI write that changes the template
// (apply, set image, rollout restart/undo) also writes the history entry, signed by the same
// operator key. Two operators writing at once keep one history (the later).

import type { KeyObject } from 'node:crypto'
import type { Envelope } from '../core/envelope.js'
import { formatIssue } from '../core/errors.js'
import { historySchema, recordRevision, type History } from '../core/history.js'
import { StoreKey, refOf, type DsRef } from '../core/keyspace.js'
import type { DaemonSet } from '../core/types.js'
import { call, type AgentTarget } from './client.js'
import { CliError } from './errors.js'
import { notFound } from './resources.js'
import { current, currentForWrite, signedWriteFor } from './signer.js'

/** currentDaemonSet fetches a stored DaemonSet (a copy to change) and its envelope, with the cluster id its write needs asked beside it; not found is an error. */
export async function currentDaemonSet(target: AgentTarget, ref: DsRef): Promise<{ ds: DaemonSet; prev: Envelope }> {
  return daemonSetIn(await currentForWrite(target, StoreKey.daemonSet(ref)), ref)
}

/** storedDaemonSet fetches a stored DaemonSet to read; not found is an error. */
export async function storedDaemonSet(target: AgentTarget, ref: DsRef): Promise<DaemonSet> {
  return daemonSetIn(await current(target, StoreKey.daemonSet(ref)), ref).ds
}

function daemonSetIn(prev: Envelope | undefined, ref: DsRef): { ds: DaemonSet; prev: Envelope } {
  if (prev?.op !== 'put') throw new CliError(notFound('daemonsets.apps', ref.name, ref.namespace))
  return { ds: structuredClone(prev.value) as DaemonSet, prev }
}

/**
 * writeDaemonSet validates a changed DaemonSet, writes it over `prev`, then records its
 * revision. The history entry is read while the DaemonSet is written (one round trip fewer);
 * it is written only once the DaemonSet was.
 */
export async function writeDaemonSet(target: AgentTarget, ds: DaemonSet, prev: Envelope, privateKey: KeyObject): Promise<void> {
  // Loaded here, not with the module: `delete` uses this file and parses no manifest (YAML, the schemas).
  const { parseDaemonSet } = await import('../core/manifest.js')
  const { errors } = parseDaemonSet(ds)
  if (errors.length > 0) throw new CliError(errors.map(formatIssue).join('; '))
  const written = call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, prev.key, ds, prev, privateKey))
  const [, history] = await Promise.all([written, current(target, StoreKey.history(refOf(ds)))])
  await writeRevision(target, ds, privateKey, { prev: history })
}

/** readHistory fetches a DaemonSet's stored history (undefined when it has none). */
export async function readHistory(target: AgentTarget, ref: DsRef): Promise<History | undefined> {
  const env = await current(target, StoreKey.history(ref))
  if (env?.op !== 'put') return undefined
  const r = historySchema.safeParse(env.value)
  return r.success ? r.data : undefined
}

/**
 * writeRevision records `ds`'s template as the newest revision, when it is not already.
 * `stored` is the history entry as the caller read it (read here when not given).
 */
export async function writeRevision(target: AgentTarget, ds: DaemonSet, privateKey: KeyObject, stored?: { prev: Envelope | undefined }): Promise<void> {
  const key = StoreKey.history(refOf(ds))
  const prev = stored === undefined ? await current(target, key) : stored.prev
  const parsed = prev?.op === 'put' ? historySchema.safeParse(prev.value) : undefined
  const before = parsed?.success === true ? parsed.data : undefined
  const next = recordRevision(before, ds, Date.now())
  if (JSON.stringify(next) === JSON.stringify(before)) return
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, next, prev, privateKey))
}

/** deleteHistory removes a deleted DaemonSet's history; `stored` is the entry as the caller read it (read here when not given). */
export async function deleteHistory(target: AgentTarget, ref: DsRef, privateKey: KeyObject, stored?: { prev: Envelope | undefined }): Promise<void> {
  const key = StoreKey.history(ref)
  const prev = stored === undefined ? await current(target, key) : stored.prev
  if (prev?.op === 'put') await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, undefined, prev, privateKey))
}
