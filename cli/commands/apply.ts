// `daemonmesh apply -f FILE|DIR|-`: validate every DaemonSet and ConfigMap (all or nothing),
// sign each with the operator key and hand it to the agent, in document order. Prints
// created/configured/unchanged, and
// `KIND/NAME skipped: REASON` for every other object (core/bundle.ts); every warning
// `check` prints goes to stderr as kubectl's `Warning: ...`.

import type { KeyObject } from 'node:crypto'
import { canonicalJson } from '../../core/canonical.js'
import { StoreKey, refOf } from '../../core/keyspace.js'
import { readBundle, type BundleObject } from '../../core/bundle.js'
import type { ConfigMap } from '../../core/configmap.js'
import { dsRef } from '../../core/keyspace.js'
import { parseManifests } from '../../core/manifest.js'
import type { DaemonSet } from '../../core/types.js'
import { call, type AgentTarget } from '../client.js'
import { CliError } from '../errors.js'
import { writeRevision } from '../history.js'
import { readInputs } from '../inputs.js'
import { WRITES_IN_FLIGHT, inOrder } from '../ordered.js'
import { current, loadOperatorKey, signedWrite } from '../signer.js'

export interface ApplyOptions {
  filename: string[]
  recursive?: boolean
  key?: string
}

/** comparable strips what apply itself sets, so re-applying the same file is `unchanged`. */
function comparable(ds: DaemonSet): string {
  const { creationTimestamp: _c, ...meta } = ds.metadata
  return canonicalJson({ ...ds, metadata: meta })
}

/** runApply applies the DaemonSets of every input in document order, or nothing when any of them is invalid. */
export async function runApply(opts: ApplyOptions, target: AgentTarget, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const inputs = await readInputs(opts.filename, { recursive: opts.recursive === true })
  const objects: BundleObject[] = []
  const errors: string[] = []
  for (const input of inputs) {
    const bundle = readBundle(parseManifests(input.text, input.source))
    for (const w of bundle.warnings) err.write(`Warning: ${w}\n`)
    objects.push(...bundle.objects)
    errors.push(...bundle.errors)
  }
  if (errors.length > 0) {
    for (const e of errors) err.write(`error: ${e}\n`)
    throw new CliError(`${errors.length} error${errors.length === 1 ? '' : 's'} found; nothing applied`)
  }
  if (objects.length === 0) throw new CliError('no objects passed to apply')
  const privateKey = objects.some((o) => o.skipped === undefined) ? loadOperatorKey(opts.key) : undefined
  // Several writes travel at once, reported in document order; a DaemonSet is written only
  // once the ConfigMaps before it in the input are, so its pods find them.
  const configs: Promise<unknown>[] = []
  await inOrder(objects, WRITES_IN_FLIGHT, async (o) => {
    if (o.skipped !== undefined || privateKey === undefined) return `${o.resource} skipped: ${o.skipped}`
    if (o.daemonSet !== undefined) {
      await Promise.all(configs)
      return `${o.resource} ${await applyDaemonSet(o.daemonSet, target, privateKey)}`
    }
    const written = applyConfigMap(o.configMap, target, privateKey)
    configs.push(written)
    return `${o.resource} ${await written}`
  }, (line) => out.write(`${line}\n`))
}

/**
 * applyConfigMap writes one ConfigMap unless the agent has it already; returns what happened.
 * An immutable ConfigMap's data cannot change (the API server's rule): delete it and apply again.
 */
async function applyConfigMap(cm: ConfigMap, target: AgentTarget, privateKey: KeyObject): Promise<'created' | 'configured' | 'unchanged'> {
  const key = StoreKey.configMap(dsRef(cm.metadata.namespace, cm.metadata.name))
  const prev = await current(target, key)
  const existing = prev?.op === 'put' ? (prev.value as ConfigMap) : undefined
  const content = (c: ConfigMap): string => canonicalJson({ ...c, metadata: { ...c.metadata, creationTimestamp: undefined } })
  if (existing !== undefined && content(existing) === content(cm)) return 'unchanged'
  if (existing?.immutable === true) throw new CliError(`configmap "${cm.metadata.name}": field is immutable when \`immutable\` is set: delete it and apply again`)
  const value: ConfigMap = { ...cm, metadata: { ...cm.metadata, creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString() } }
  await call(target, 'POST', '/v1/envelopes', signedWrite(key, value, prev, privateKey))
  return existing === undefined ? 'created' : 'configured'
}

/** applyDaemonSet writes one DaemonSet and its revision unless the agent has it already; returns what happened, as kubectl says it. */
async function applyDaemonSet(ds: DaemonSet, target: AgentTarget, privateKey: KeyObject): Promise<'created' | 'configured' | 'unchanged'> {
  const key = StoreKey.daemonSet(refOf(ds))
  const prev = await current(target, key)
  const existing = prev?.op === 'put' ? (prev.value as DaemonSet) : undefined
  if (existing !== undefined && comparable(existing) === comparable(ds)) return 'unchanged'
  const creationTimestamp = existing?.metadata.creationTimestamp ?? new Date().toISOString()
  const value: DaemonSet = { ...ds, metadata: { ...ds.metadata, creationTimestamp } }
  await call(target, 'POST', '/v1/envelopes', signedWrite(key, value, prev, privateKey))
  await writeRevision(target, value, privateKey)
  return existing === undefined ? 'created' : 'configured'
}
