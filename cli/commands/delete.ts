// `daemonmesh delete ds NAME`: a signed tombstone for the DaemonSet. `delete -f` takes
// the bundles apply takes, and skips the objects apply skips, saying so.

import { StoreKey, dsRef, parseDsKey, refOf, type DsRef } from '../../core/keyspace.js'
import type { DaemonSet } from '../../core/types.js'
import { call, type AgentTarget } from '../client.js'
import { historyDelete } from '../history.js'
import { CliError, UsageError } from '../errors.js'
import { WRITES_IN_FLIGHT, inOrder } from '../ordered.js'
import { fleetNodes } from '../fleet.js'
import { CM_RESOURCES, DS_RESOURCES, POD_RESOURCES, SECRET_RESOURCES, dsArg, notFound } from '../resources.js'
import { current, currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'
import { writeEnvelopes } from '../writes.js'

export interface DeleteOptions {
  namespace?: string
  key?: string
  cascade?: string
  filename?: string[]
  /** Read -f directories' subdirectories too. */
  recursive?: boolean
  /** For `delete pod ds/NAME`: the host whose copy to delete. */
  node?: string
}

/** cascadeMode maps kubectl's --cascade values (and the seeds' true/false) to ours. */
export function cascadeMode(v: string | undefined): 'background' | 'orphan' {
  switch (v ?? 'background') {
    case 'background':
    case 'foreground':
    case 'true':
      return 'background'
    case 'orphan':
    case 'false':
      return 'orphan'
    default:
      throw new UsageError(`--cascade=${v}: use background, foreground or orphan (true and false are accepted as in old kubectl)`)
  }
}


/** ObjectKind is a kind of object `delete` writes a tombstone for besides DaemonSets: its key and kubectl's names for it. */
interface ObjectKind {
  key: (ref: DsRef) => string
  plural: string
  singular: string
}
const CONFIG_MAP: ObjectKind = { key: StoreKey.configMap, plural: 'configmaps', singular: 'configmap' }
const SECRET: ObjectKind = { key: StoreKey.secret, plural: 'secrets', singular: 'secret' }

/** Target is one DaemonSet, ConfigMap or Secret (`object`) to delete, or a line saying why an object of a `-f` bundle is skipped. */
type Target = { ref: DsRef; object?: ObjectKind; skipped?: undefined } | { ref?: undefined; object?: undefined; skipped: string }

/** targets resolves what to delete: `ds NAME…` in one namespace, or the objects of `-f` manifests in document order. */
async function targets(resource: string | undefined, names: string[], opts: DeleteOptions): Promise<Target[]> {
  if ((opts.filename ?? []).length > 0) {
    if (resource !== undefined) throw new UsageError('delete: give either -f FILE or a resource and names, not both')
    // Manifests are parsed (YAML, the schemas) only for -f: `delete ds NAME` starts without them.
    const [{ readBundle }, { parseManifests }, { readInputs }] = await Promise.all([import('../../core/bundle.js'), import('../../core/manifest.js'), import('../inputs.js')])
    const found: Target[] = []
    const errors: string[] = []
    for (const input of await readInputs(opts.filename ?? [], { recursive: opts.recursive === true })) {
      const bundle = readBundle(parseManifests(input.text, input.source))
      errors.push(...bundle.errors)
      for (const o of bundle.objects) {
        if (o.daemonSet !== undefined) found.push({ ref: refOf(o.daemonSet) })
        else if (o.configMap !== undefined) found.push({ ref: dsRef(o.configMap.metadata.namespace, o.configMap.metadata.name), object: CONFIG_MAP })
        else if (o.secret !== undefined) found.push({ ref: dsRef(o.secret.metadata.namespace, o.secret.metadata.name), object: SECRET })
        else found.push({ skipped: `${o.resource} skipped: ${o.skipped}` })
      }
    }
    if (errors.length > 0) throw new CliError(`${errors[0] ?? ''}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}; nothing deleted`)
    if (found.length === 0) throw new CliError('no objects passed to delete')
    return found
  }
  if (resource === undefined) throw new UsageError('delete: give ds NAME… or -f FILE')
  if (CM_RESOURCES.has(resource)) {
    if (names.length === 0) throw new UsageError('delete cm: give the name of the ConfigMap')
    return names.map((name) => ({ ref: dsRef(opts.namespace, name), object: CONFIG_MAP }))
  }
  if (SECRET_RESOURCES.has(resource)) {
    if (names.length === 0) throw new UsageError('delete secret: give the name of the Secret')
    return names.map((name) => ({ ref: dsRef(opts.namespace, name), object: SECRET }))
  }
  if (!DS_RESOURCES.has(resource)) throw new UsageError(`delete ${resource}: unknown resource type; use ds, cm, secret or pod`)
  if (names.length === 0) throw new UsageError('delete ds: give the name of the DaemonSet')
  return names.map((name) => ({ ref: dsRef(opts.namespace, name) }))
}

/**
 * deletePods asks a node to delete its copy (`delete pod ds/NAME --node HOST`, or a pod name
 * as `get pods` prints it): with OnDelete, the node then starts a copy of the current template.
 */
async function deletePods(names: string[], opts: DeleteOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const ns = opts.namespace ?? 'default'
  const nodes = await fleetNodes(target)
  const wanted: { ds: DsRef; node: string }[] = []
  for (const n of names) {
    const ds = dsArg(n, ns)
    if (ds !== undefined) {
      if (opts.node === undefined) throw new UsageError(`delete pod ${n}: give the host with --node`)
      wanted.push({ ds, node: opts.node })
      continue
    }
    const match = nodes.flatMap((x) =>
      Object.keys(x.pods)
        .map(parseDsKey)
        .filter((r): r is DsRef => r?.namespace === ns && `${r.name}-${x.info.name}` === n)
        .map((r) => ({ ds: r, node: x.info.name })),
    )
    if (match[0] === undefined) throw new CliError(notFound('pods', n, ns))
    wanted.push(match[0])
  }
  const privateKey = loadOperatorKey(opts.key)
  for (const w of wanted) {
    const node = nodes.find((x) => x.info.name === w.node)
    if (node === undefined) throw new CliError(`nodes "${w.node}" not found`)
    const pod = node.pods[w.ds.key]
    if (pod === undefined) throw new CliError(`node ${w.node} runs no copy of daemonset.apps/${w.ds.name}`)
    const key = StoreKey.podDelete(w.ds, w.node)
    await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, { revision: pod.revision, since: pod.since }, await currentForWrite(target, key), privateKey))
    out.write(`pod "${w.ds.name}-${w.node}" deleted\n`)
  }
}

export async function runDelete(resource: string | undefined, names: string[], opts: DeleteOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (resource !== undefined && POD_RESOURCES.has(resource)) {
    if (names.length === 0) throw new UsageError('delete pod: give a pod name (see get pods) or ds/NAME --node HOST')
    return deletePods(names, opts, target, out)
  }
  const cascade = cascadeMode(opts.cascade)
  const list = await targets(resource, names, opts)
  const privateKey = list.some((t) => t.ref !== undefined) ? loadOperatorKey(opts.key) : undefined
  let missing = 0
  const one = async ({ ref, skipped, object }: Target): Promise<{ line: string; missing?: true }> => {
    if (ref === undefined || privateKey === undefined) return { line: `${skipped}\n` }
    if (object !== undefined) {
      const key = object.key(ref)
      const prev = await currentForWrite(target, key)
      if (prev === undefined || prev.op !== 'put') return { line: `Error from server (NotFound): ${notFound(object.plural, ref.name, ref.namespace)}\n`, missing: true }
      await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, undefined, prev, privateKey))
      return { line: `${object.singular} "${ref.name}" deleted\n` }
    }
    const key = StoreKey.daemonSet(ref)
    // The DaemonSet, its history and the cluster id asked for at once: one round trip, not three.
    const [prev, history] = await Promise.all([currentForWrite(target, key), current(target, StoreKey.history(ref))])
    if (prev === undefined || prev.op !== 'put') return { line: `Error from server (NotFound): ${notFound('daemonsets.apps', ref.name, ref.namespace)}\n`, missing: true }
    const tombstone = await signedWriteFor(target, key, undefined, prev, privateKey, { cascade })
    const historyTombstone = await historyDelete(target, ref, privateKey, history)
    // One write: the agent keeps both or neither, and gossips them as one message.
    await writeEnvelopes(target, historyTombstone === undefined ? [tombstone] : [tombstone, historyTombstone])
    return { line: `daemonset.apps "${(prev.value as DaemonSet).metadata.name}" deleted${cascade === 'orphan' ? ' (orphan: its pods keep running)' : ''}\n` }
  }
  // Each deletion is its own signed write: several travel at once, reported in order.
  await inOrder(list, WRITES_IN_FLIGHT, one, (r) => {
    out.write(r.line)
    if (r.missing === true) missing++
  })
  if (missing > 0) throw new CliError('')
}
