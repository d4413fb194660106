// `daemonmesh delete ds NAME`: a signed tombstone for the DaemonSet.

import type { DaemonSet } from '../../core/types.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { current, loadOperatorKey, signedWrite } from '../signer.js'

export interface DeleteOptions {
  namespace?: string
  key?: string
  cascade?: string
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

export const DS_RESOURCES = new Set(['ds', 'daemonset', 'daemonsets', 'daemonset.apps', 'daemonsets.apps'])

export async function runDelete(resource: string, names: string[], opts: DeleteOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (!DS_RESOURCES.has(resource)) throw new UsageError(`delete ${resource}: unknown resource type; use ds`)
  if (names.length === 0) throw new UsageError('delete ds: give the name of the DaemonSet')
  const cascade = cascadeMode(opts.cascade)
  const privateKey = loadOperatorKey(opts.key)
  const ns = opts.namespace ?? 'default'
  let missing = 0
  for (const name of names) {
    const key = `ds/${ns}/${name}`
    const prev = await current(target, key)
    if (prev === undefined || prev.op !== 'put') {
      missing++
      out.write(`Error from server (NotFound): daemonsets.apps "${name}" not found${ns === 'default' ? '' : ` in namespace "${ns}"`}\n`)
      continue
    }
    await call(target, 'POST', '/v1/envelopes', signedWrite(key, undefined, prev, privateKey, { cascade }))
    out.write(`daemonset.apps "${(prev.value as DaemonSet).metadata.name}" deleted${cascade === 'orphan' ? ' (orphan: its pods keep running)' : ''}\n`)
  }
  if (missing > 0) throw new CliError('')
}
