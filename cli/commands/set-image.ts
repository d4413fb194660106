// `daemonmesh set image ds/NAME CONTAINER=IMAGE…`: a signed update of the template's images
// (seed 002), the same write as an apply of the changed manifest.

import type { AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { currentDaemonSet, writeDaemonSet } from '../history.js'
import { dsArg } from '../resources.js'
import { loadOperatorKey } from '../signer.js'

export async function runSetImage(ref: string, pairs: string[], opts: { namespace?: string; key?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const r = dsArg(ref, opts.namespace)
  if (r === undefined) throw new UsageError(`set image ${ref}: give the DaemonSet as ds/NAME`)
  if (pairs.length === 0) throw new UsageError('set image: give at least one CONTAINER=IMAGE')
  const images = pairs.map((p) => {
    const eq = p.indexOf('=')
    if (eq <= 0 || eq === p.length - 1) throw new UsageError(`set image ${p}: use CONTAINER=IMAGE (or *=IMAGE for every container)`)
    return { container: p.slice(0, eq), image: p.slice(eq + 1) }
  })
  const privateKey = loadOperatorKey(opts.key)
  const { ds, prev } = await currentDaemonSet(target, r)
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
  await writeDaemonSet(target, ds, prev, privateKey)
  out.write(`daemonset.apps/${ds.metadata.name} image updated\n`)
}
