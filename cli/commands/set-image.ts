// `daemonmesh set image ds/NAME CONTAINER=IMAGE…`: a signed update of the template's images
// (seed 002), the same write as an apply of the changed manifest.

import { parseDaemonSet } from '../../core/manifest.js'
import type { DaemonSet } from '../../core/types.js'
import { formatIssue } from '../../core/errors.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { writeRevision } from '../history.js'
import { dsRef } from '../resources.js'
import { current, loadOperatorKey, signedWrite } from '../signer.js'

export async function runSetImage(ref: string, pairs: string[], opts: { namespace?: string; key?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const dsName = dsRef(ref)
  if (dsName === undefined) throw new UsageError(`set image ${ref}: give the DaemonSet as ds/NAME`)
  if (pairs.length === 0) throw new UsageError('set image: give at least one CONTAINER=IMAGE')
  const images = pairs.map((p) => {
    const eq = p.indexOf('=')
    if (eq <= 0 || eq === p.length - 1) throw new UsageError(`set image ${p}: use CONTAINER=IMAGE (or *=IMAGE for every container)`)
    return { container: p.slice(0, eq), image: p.slice(eq + 1) }
  })
  const privateKey = loadOperatorKey(opts.key)
  const ns = opts.namespace ?? 'default'
  const key = `ds/${ns}/${dsName}`
  const prev = await current(target, key)
  if (prev === undefined || prev.op !== 'put') throw new CliError(`daemonsets.apps "${dsName}" not found${ns === 'default' ? '' : ` in namespace "${ns}"`}`)
  const ds = structuredClone(prev.value) as DaemonSet
  let changed = false
  for (const { container, image } of images) {
    const targets = ds.spec.template.spec.containers.filter((c) => container === '*' || c.name === container)
    if (targets.length === 0) throw new CliError(`unable to find container named "${container}"`)
    for (const c of targets) {
      if (c.image !== image) changed = true
      c.image = image
    }
  }
  if (!changed) {
    out.write(`daemonset.apps/${ds.metadata.name} image unchanged\n`)
    return
  }
  const { errors } = parseDaemonSet(ds)
  if (errors.length > 0) throw new CliError(errors.map(formatIssue).join('; '))
  await call(target, 'POST', '/v1/envelopes', signedWrite(key, ds, prev, privateKey))
  await writeRevision(target, ds, privateKey)
  out.write(`daemonset.apps/${ds.metadata.name} image updated\n`)
}
