// `daemonmesh rollout status|history|undo|restart|release ds/NAME`, as kubectl's: status
// follows the rollout through the API until every host runs an available copy of the
// current template (a progress bar on a terminal, lines otherwise) and says why hosts wait;
// undo and restart are signed writes of the DaemonSet, recorded in its history; release
// (ours) is a signed request that every voter free the update slot one host holds.

import { parseDuration } from '../../core/duration.js'
import { undoTarget, withTemplate } from '../../core/history.js'
import { revisionOf } from '../../core/revision.js'
import type { DaemonSet } from '../../core/types.js'
import { ApiError, call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { fleetNodes } from '../fleet.js'
import { currentDaemonSet, readHistory, storedDaemonSet, writeDaemonSet } from '../history.js'
import { StoreKey, type DsRef } from '../../core/keyspace.js'
import type { ReleaseRequest } from '../../core/lease.js'
import { dsArg, notFound } from '../resources.js'
import { currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'
import { yamlText } from '../format.js'
import { table as renderTable } from '../table.js'

export interface RolloutOptions {
  namespace?: string
  key?: string
  timeout?: string
  watch?: boolean
  node?: string
  revision?: string
  toRevision?: string
}

/** daemonSetOf reads the `ds/NAME` argument of `rollout VERB`; a usage error when it is not one. */
function daemonSetOf(verb: string, arg: string, opts: RolloutOptions): DsRef {
  const r = dsArg(arg, opts.namespace)
  if (r === undefined) throw new UsageError(`rollout ${verb} ${arg}: give the DaemonSet as ds/NAME`)
  return r
}

function revisionNumber(flag: string | undefined, name: string): number {
  if (flag === undefined) return 0
  if (!/^[0-9]+$/.test(flag)) throw new UsageError(`${name} ${flag}: a revision number (see rollout history)`)
  return Number(flag)
}

interface Progress {
  desired: number
  updated: number
  available: number
  done: boolean
  line: string
  /** Per host still moving: why it waits or what failed. */
  reasons: string[]
}

async function progress(target: AgentTarget, r: DsRef): Promise<Progress> {
  let obj: DaemonSet & { status: { desiredNumberScheduled: number; updatedNumberScheduled: number; numberAvailable: number; currentRevision: string } }
  try {
    obj = await call(target, 'GET', `/v1/daemonsets/${r.namespace}/${r.name}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError(notFound('daemonsets.apps', r.name, r.namespace))
    throw err
  }
  if ((obj.spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') throw new CliError('rollout status is only available for RollingUpdate strategy type')
  const s = obj.status
  const desired = s.desiredNumberScheduled
  const updated = s.updatedNumberScheduled
  const available = s.numberAvailable
  const reasons: string[] = []
  for (const n of await fleetNodes(target)) {
    const pod = n.pods[r.key]
    if (pod === undefined || (pod.revision === s.currentRevision && pod.ready && pod.lastError === undefined)) continue
    const why = pod.lastError ?? pod.waiting ?? (pod.revision === s.currentRevision ? 'not ready yet' : 'waiting to update')
    reasons.push(`${n.info.name}${n.state === 'Alive' ? '' : ` (${n.state})`}: ${why}`)
  }
  const name = `daemon set "${r.name}"`
  if (updated < desired) return { desired, updated, available, done: false, reasons, line: `Waiting for ${name} rollout to finish: ${updated} out of ${desired} new pods have been updated...` }
  if (available < desired) return { desired, updated, available, done: false, reasons, line: `Waiting for ${name} rollout to finish: ${available} of ${desired} updated pods are available...` }
  return { desired, updated, available, done: true, reasons: [], line: `${name} successfully rolled out` }
}

function bar(p: Progress, width = 24): string {
  const filled = p.desired === 0 ? width : Math.round((Math.min(p.updated, p.available) / p.desired) * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.updated}/${p.desired} updated, ${p.available}/${p.desired} available`
}

/** rolloutStatus follows the rollout until done (exit 0), or until --timeout (exit 1, with why). */
export async function rolloutStatus(ref: string, opts: RolloutOptions, target: AgentTarget, out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<void> {
  const r = daemonSetOf('status', ref, opts)
  const timeoutMs = opts.timeout === undefined || opts.timeout === '0' ? 0 : parseDuration(opts.timeout)
  if (timeoutMs === undefined) throw new UsageError(`--timeout ${opts.timeout}: a duration such as 30s, 5m (0 waits forever)`)
  const deadline = timeoutMs === 0 ? Infinity : Date.now() + timeoutMs
  const tty = out.isTTY === true
  let last = ''
  for (;;) {
    const p = await progress(target, r)
    if (tty) {
      out.write(`\r\x1b[K${p.done ? p.line : `${bar(p)}${p.reasons[0] === undefined ? '' : `  ${p.reasons[0]}`}`}${p.done ? '\n' : ''}`)
    } else {
      const text = [p.line, ...p.reasons.map((x) => `  ${x}`)].join('\n')
      if (text !== last) out.write(`${text}\n`)
      last = text
    }
    if (p.done) return
    if (opts.watch === false) {
      if (tty) out.write('\n')
      return
    }
    if (Date.now() >= deadline) {
      if (tty) out.write('\n')
      throw new CliError(`timed out waiting for the rollout of daemon set "${r.name}": ${p.updated} of ${p.desired} updated, ${p.available} available${p.reasons.length === 0 ? '' : `; ${p.reasons.join('; ')}`}`)
    }
    await new Promise((res) => setTimeout(res, Math.min(1000, Math.max(0, deadline - Date.now()))))
  }
}

/** rolloutHistory lists the revisions (REVISION, CHANGE-CAUSE), or one revision's template. */
export async function rolloutHistory(ref: string, opts: RolloutOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const r = daemonSetOf('history', ref, opts)
  await storedDaemonSet(target, r)
  const history = await readHistory(target, r)
  const list = [...(history?.revisions ?? [])].sort((a, b) => a.revision - b.revision)
  const want = revisionNumber(opts.revision, '--revision')
  if (want > 0) {
    const entry = list.find((e) => e.revision === want)
    if (entry === undefined) throw new CliError(`unable to find the specified revision ${want}`)
    out.write(`daemonset.apps/${r.name} with revision #${want}\nPod Template:\n${yamlText(entry.template, { indent: 2 }).replace(/^/gm, '  ')}`)
    return
  }
  out.write(`daemonset.apps/${r.name}\n`)
  out.write(renderTable(['REVISION', 'CHANGE-CAUSE'], list.map((e) => [String(e.revision), e.changeCause ?? '<none>'])))
}

/** rolloutUndo writes back the template of the previous revision (or --to-revision). */
export async function rolloutUndo(ref: string, opts: RolloutOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const r = daemonSetOf('undo', ref, opts)
  const to = revisionNumber(opts.toRevision, '--to-revision')
  const privateKey = loadOperatorKey(opts.key)
  const { ds, prev } = await currentDaemonSet(target, r)
  const { entry, error } = undoTarget(await readHistory(target, r), ds, to)
  if (entry === undefined) throw new CliError(to > 0 ? (error ?? '') : `no rollout history found for daemonset.apps/${r.name}`)
  if (entry.hash === revisionOf(ds)) {
    out.write(`daemonset.apps/${r.name} skipped rollback (current template already matches revision ${entry.revision})\n`)
    return
  }
  await writeDaemonSet(target, withTemplate(ds, entry), prev, privateKey)
  out.write(`daemonset.apps/${r.name} rolled back\n`)
}

/** rolloutRestart stamps the template with restartedAt: a new revision that rolls through every host. */
export async function rolloutRestart(ref: string, opts: RolloutOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const r = daemonSetOf('restart', ref, opts)
  const privateKey = loadOperatorKey(opts.key)
  const { ds, prev } = await currentDaemonSet(target, r)
  const meta = (ds.spec.template.metadata ??= {})
  meta.annotations = { ...(meta.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() }
  await writeDaemonSet(target, ds, prev, privateKey)
  out.write(`daemonset.apps/${r.name} restarted\n`)
}

/** BusySlot is one busy update slot as GET /v1/lease lists it. */
interface BusySlot {
  ds: string
  kind: ReleaseRequest['kind']
  slot: number
  holder: string
  term: number
  revision: string
}

/**
 * reportedSlot returns the update slot `node`'s own record says it holds of the DaemonSet
 * (for the current revision, the one it moves to), or undefined: how an agent off the
 * DaemonSet's committee, whose voter kept no votes of it, knows the slot (docs/rollout.md).
 */
async function reportedSlot(target: AgentTarget, r: DsRef, node: string): Promise<Omit<BusySlot, 'ds' | 'holder'> | undefined> {
  const slot = (await fleetNodes(target)).find((n) => n.info.name === node)?.pods[r.key]?.updateSlot
  if (slot === undefined) return undefined
  const ds = await storedDaemonSet(target, r)
  return { kind: slot.kind, slot: slot.slot, term: slot.term, revision: revisionOf(ds) }
}

/**
 * rolloutRelease frees the update slot `--node` holds, by hand: it reads the slot from the
 * agent's lease view (or, off the DaemonSet's committee, from the node's record) and writes a signed request (`release/NS/NAME/NODE`) naming its kind,
 * slot, revision and term. Every voter frees that holder's hold of the slot with that
 * revision and a term up to this one; a later claim (a higher term) is not touched.
 */
export async function rolloutRelease(ref: string, opts: RolloutOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const r = daemonSetOf('release', ref, opts)
  const node = opts.node
  if (node === undefined) throw new UsageError('rollout release: give the host with --node')
  const privateKey = loadOperatorKey(opts.key)
  const { slots } = await call<{ slots: BusySlot[] }>(target, 'GET', '/v1/lease')
  const held = slots.filter((s) => s.ds === r.key && s.holder === node).sort((a, b) => b.term - a.term)[0] ?? (await reportedSlot(target, r, node))
  if (held === undefined) throw new CliError(`node ${node} holds no update slot of daemonset.apps/${r.name} (as this agent sees it: neither its own votes nor ${node}'s node record)`)
  const key = StoreKey.leaseRelease(r, node)
  const request: ReleaseRequest = { kind: held.kind, slot: held.slot, term: held.term, revision: held.revision }
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, request, await currentForWrite(target, key), privateKey))
  out.write(`daemonset.apps/${r.name} ${held.kind} slot ${held.slot} of node ${node} released\n`)
}
