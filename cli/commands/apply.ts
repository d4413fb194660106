// `daemonmesh apply -f FILE|DIR|-`: validate every DaemonSet (all or nothing), sign each
// with the operator key and hand it to the agent. Prints created/configured/unchanged.

import { canonicalJson } from '../../core/canonical.js'
import { StoreKey, refOf } from '../../core/keyspace.js'
import { documentErrors, parseManifests } from '../../core/manifest.js'
import type { DaemonSet } from '../../core/types.js'
import { call, type AgentTarget } from '../client.js'
import { CliError } from '../errors.js'
import { writeRevision } from '../history.js'
import { readInputs } from '../inputs.js'
import { current, loadOperatorKey, signedWrite } from '../signer.js'

export interface ApplyOptions {
  filename: string[]
  key?: string
}

/** comparable strips what apply itself sets, so re-applying the same file is `unchanged`. */
function comparable(ds: DaemonSet): string {
  const { creationTimestamp: _c, ...meta } = ds.metadata
  return canonicalJson({ ...ds, metadata: meta })
}

export async function runApply(opts: ApplyOptions, target: AgentTarget, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const inputs = await readInputs(opts.filename)
  const daemonSets: DaemonSet[] = []
  const errors: string[] = []
  for (const input of inputs) {
    const docs = parseManifests(input.text, input.source)
    errors.push(...documentErrors(docs))
    for (const d of docs) {
      if (d.errors.length > 0) continue
      if (d.daemonSet === undefined) errors.push(`${d.where}: ${d.kind} ${d.name}: only DaemonSets can be applied`)
      else daemonSets.push(d.daemonSet)
    }
  }
  if (errors.length > 0) {
    for (const e of errors) err.write(`error: ${e}\n`)
    throw new CliError(`${errors.length} error${errors.length === 1 ? '' : 's'} found; nothing applied`)
  }
  if (daemonSets.length === 0) throw new CliError('no DaemonSet found in the given manifests')
  const privateKey = loadOperatorKey(opts.key)
  for (const ds of daemonSets) {
    const key = StoreKey.daemonSet(refOf(ds))
    const prev = await current(target, key)
    const existing = prev?.op === 'put' ? (prev.value as DaemonSet) : undefined
    if (existing !== undefined && comparable(existing) === comparable(ds)) {
      out.write(`daemonset.apps/${ds.metadata.name} unchanged\n`)
      continue
    }
    const creationTimestamp = existing?.metadata.creationTimestamp ?? new Date().toISOString()
    const value: DaemonSet = { ...ds, metadata: { ...ds.metadata, creationTimestamp } }
    await call(target, 'POST', '/v1/envelopes', signedWrite(key, value, prev, privateKey))
    await writeRevision(target, value, privateKey)
    out.write(`daemonset.apps/${ds.metadata.name} ${existing === undefined ? 'created' : 'configured'}\n`)
  }
}
