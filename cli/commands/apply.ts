// `daemonmesh apply -f FILE|DIR|-`: validate every DaemonSet, ConfigMap and Secret (all or
// nothing), seal Secrets with the fleet secret key, sign each object with the operator key
// and hand it to the agent, in document order. Prints
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
import { revisionWrite } from '../history.js'
import { readInputs } from '../inputs.js'
import { WRITES_IN_FLIGHT, inOrder } from '../ordered.js'
import { current, currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'
import { loadSecretKey } from '../secret-key.js'
import { writeEnvelopes } from '../writes.js'
import { openSecret, sameSecret, sealSecret, type PlainSecret, type Secret } from '../../core/secret.js'
import { SecretKeyError, type SecretKey } from '../../core/secret-box.js'
import { formatIssue } from '../../core/errors.js'

export interface ApplyOptions {
  filename: string[]
  recursive?: boolean
  key?: string
  secretKey?: string
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
  // Every Secret is sealed before anything is written: a Secret over the bound fails the apply whole.
  const secretKey = objects.some((o) => o.secret !== undefined) ? loadSecretKey(opts.secretKey) : undefined
  const sealed = new Map<BundleObject, Secret>()
  for (const o of objects) {
    if (o.secret === undefined || secretKey === undefined) continue
    const r = sealSecret(o.secret, secretKey)
    if (r.secret === undefined) throw new CliError(`${o.where}: secret/${o.secret.metadata.name}: ${r.errors.map(formatIssue).join('; ')}; nothing applied`)
    sealed.set(o, r.secret)
  }
  // Several writes travel at once, reported in document order; a DaemonSet is written only
  // once the ConfigMaps and Secrets before it in the input are, so its pods find them.
  const configs: Promise<unknown>[] = []
  await inOrder(objects, WRITES_IN_FLIGHT, async (o) => {
    if (o.skipped !== undefined || privateKey === undefined) return `${o.resource} skipped: ${o.skipped}`
    if (o.daemonSet !== undefined) {
      await Promise.all(configs)
      return `${o.resource} ${await applyDaemonSet(o.daemonSet, target, privateKey)}`
    }
    const written =
      o.configMap !== undefined
        ? applyConfigMap(o.configMap, target, privateKey)
        : applySecret(o.secret, sealed.get(o) as Secret, secretKey as SecretKey, target, privateKey)
    configs.push(written.catch(() => undefined))
    return `${o.resource} ${await written}`
  }, (line) => out.write(`${line}\n`))
}

/**
 * applySecret writes one sealed Secret unless the agent holds the same one (opened with the
 * secret key and compared); returns what happened. A stored Secret sealed with another key
 * is replaced (said so on the line). An immutable Secret's data cannot change.
 */
async function applySecret(plain: PlainSecret, secret: Secret, secretKey: SecretKey, target: AgentTarget, privateKey: KeyObject): Promise<string> {
  const key = StoreKey.secret(dsRef(plain.metadata.namespace, plain.metadata.name))
  const prev = await currentForWrite(target, key)
  const existing = prev?.op === 'put' ? (prev.value as Secret) : undefined
  let note = ''
  if (existing !== undefined) {
    try {
      if (sameSecret(existing, openSecret(existing, secretKey), plain)) return 'unchanged'
    } catch (err) {
      if (!(err instanceof SecretKeyError)) throw err
      note = ' (it was sealed with another secret key)'
    }
    if (existing.immutable === true) throw new CliError(`secret "${plain.metadata.name}": field is immutable when \`immutable\` is set: delete it and apply again`)
  }
  const value: Secret = { ...secret, metadata: { ...secret.metadata, creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString() } }
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, value, prev, privateKey))
  return existing === undefined ? 'created' : `configured${note}`
}

/**
 * applyConfigMap writes one ConfigMap unless the agent has it already; returns what happened.
 * An immutable ConfigMap's data cannot change (the API server's rule): delete it and apply again.
 */
async function applyConfigMap(cm: ConfigMap, target: AgentTarget, privateKey: KeyObject): Promise<'created' | 'configured' | 'unchanged'> {
  const key = StoreKey.configMap(dsRef(cm.metadata.namespace, cm.metadata.name))
  const prev = await currentForWrite(target, key)
  const existing = prev?.op === 'put' ? (prev.value as ConfigMap) : undefined
  const content = (c: ConfigMap): string => canonicalJson({ ...c, metadata: { ...c.metadata, creationTimestamp: undefined } })
  if (existing !== undefined && content(existing) === content(cm)) return 'unchanged'
  if (existing?.immutable === true) throw new CliError(`configmap "${cm.metadata.name}": field is immutable when \`immutable\` is set: delete it and apply again`)
  const value: ConfigMap = { ...cm, metadata: { ...cm.metadata, creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString() } }
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, value, prev, privateKey))
  return existing === undefined ? 'created' : 'configured'
}

/**
 * applyDaemonSet writes one DaemonSet and its revision unless the agent has it already;
 * returns what happened, as kubectl says it. What the writes need (the DaemonSet and history
 * entries stored, the cluster id) is asked for at once: one round trip, not three; then the
 * two entries are written as one: a second.
 */
async function applyDaemonSet(ds: DaemonSet, target: AgentTarget, privateKey: KeyObject): Promise<'created' | 'configured' | 'unchanged'> {
  const key = StoreKey.daemonSet(refOf(ds))
  const [prev, history] = await Promise.all([currentForWrite(target, key), current(target, StoreKey.history(refOf(ds)))])
  const existing = prev?.op === 'put' ? (prev.value as DaemonSet) : undefined
  if (existing !== undefined && comparable(existing) === comparable(ds)) return 'unchanged'
  const creationTimestamp = existing?.metadata.creationTimestamp ?? new Date().toISOString()
  const value: DaemonSet = { ...ds, metadata: { ...ds.metadata, creationTimestamp } }
  const written = await signedWriteFor(target, key, value, prev, privateKey)
  const revision = await revisionWrite(target, value, privateKey, history)
  // One write: the agent keeps both or neither, and gossips them as one message.
  await writeEnvelopes(target, revision === undefined ? [written] : [written, revision])
  return existing === undefined ? 'created' : 'configured'
}
