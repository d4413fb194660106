// Writing a DaemonSet with its revision history: every CLI write that changes the template
// (apply, set image, rollout restart/undo) also writes the history entry, signed by the same
// operator key. Two operators writing at once keep one history (the later).

import type { KeyObject } from 'node:crypto'
import type { Envelope } from '../core/envelope.js'
import { formatIssue } from '../core/errors.js'
import { historySchema, recordRevision, type History } from '../core/history.js'
import { StoreKey, refOf, type DsRef } from '../core/keyspace.js'
import type { DaemonSet } from '../core/types.js'
import type { AgentTarget } from './client.js'
import { CliError } from './errors.js'
import { notFound } from './resources.js'
import { current, currentForWrite, signedWriteFor } from './signer.js'
import { writeEnvelopes } from './writes.js'

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
 * writeDaemonSet validates a changed DaemonSet and writes it over `prev` with its revision,
 * as one write (cli/writes.ts). The history entry is read while the DaemonSet is signed.
 */
export async function writeDaemonSet(target: AgentTarget, ds: DaemonSet, prev: Envelope, privateKey: KeyObject): Promise<void> {
  // Loaded here, not with the module: `delete` uses this file and parses no manifest (YAML, the schemas).
  const { parseDaemonSet } = await import('../core/manifest.js')
  const { errors } = parseDaemonSet(ds)
  if (errors.length > 0) throw new CliError(errors.map(formatIssue).join('; '))
  const [written, history] = await Promise.all([signedWriteFor(target, prev.key, ds, prev, privateKey), current(target, StoreKey.history(refOf(ds)))])
  const revision = await revisionWrite(target, ds, privateKey, history)
  await writeEnvelopes(target, revision === undefined ? [written] : [written, revision])
}

/** readHistory fetches a DaemonSet's stored history (undefined when it has none). */
export async function readHistory(target: AgentTarget, ref: DsRef): Promise<History | undefined> {
  const env = await current(target, StoreKey.history(ref))
  if (env?.op !== 'put') return undefined
  const r = historySchema.safeParse(env.value)
  return r.success ? r.data : undefined
}

/** revisionWrite signs the history entry `prev` becomes with `ds`'s template as its newest revision, or undefined when it is already. */
export async function revisionWrite(target: AgentTarget, ds: DaemonSet, privateKey: KeyObject, prev: Envelope | undefined): Promise<Envelope | undefined> {
  const parsed = prev?.op === 'put' ? historySchema.safeParse(prev.value) : undefined
  const before = parsed?.success === true ? parsed.data : undefined
  const next = recordRevision(before, ds, Date.now())
  if (JSON.stringify(next) === JSON.stringify(before)) return undefined
  return signedWriteFor(target, StoreKey.history(refOf(ds)), next, prev, privateKey)
}

/** historyDelete signs the tombstone of a deleted DaemonSet's history entry `prev` (as the caller read it), or undefined when there is none to delete. */
export async function historyDelete(target: AgentTarget, ref: DsRef, privateKey: KeyObject, prev: Envelope | undefined): Promise<Envelope | undefined> {
  return prev?.op === 'put' ? signedWriteFor(target, StoreKey.history(ref), undefined, prev, privateKey) : undefined
}
