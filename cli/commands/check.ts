// `daemonmesh check -f FILE|DIR|-`: validate manifests and print every problem with its path.

import { documentErrors, documentWarnings, parseManifests, revisionOf, skippedLine } from '../../core/index.js'
import { CliError } from '../errors.js'
import { readInputs } from '../inputs.js'

export interface CheckOptions {
  filename: string[]
  recursive?: boolean
}

/**
 * runCheck validates every document; it prints errors and warnings (the ones apply prints
 * too), what apply would skip, and throws when any error was found.
 */
export async function runCheck(opts: CheckOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const inputs = await readInputs(opts.filename, { recursive: opts.recursive === true })
  let errors = 0
  let count = 0
  for (const input of inputs) {
    const docs = parseManifests(input.text, input.source)
    for (const line of documentErrors(docs)) {
      err.write(`error: ${line}\n`)
      errors++
    }
    for (const d of docs) {
      count++
      for (const w of documentWarnings(d)) err.write(`warning: ${w}\n`)
      if (d.daemonSet !== undefined) {
        out.write(`${d.where}: daemonset.apps/${d.daemonSet.metadata.name} (namespace ${d.daemonSet.metadata.namespace}) is valid, revision ${revisionOf(d.daemonSet)}\n`)
      } else if (d.configMap !== undefined) {
        out.write(`${d.where}: configmap/${d.configMap.metadata.name} (namespace ${d.configMap.metadata.namespace}) is valid\n`)
      } else if (d.secret !== undefined) {
        out.write(`${d.where}: secret/${d.secret.metadata.name} (namespace ${d.secret.metadata.namespace}, type ${d.secret.type}) is valid\n`)
      } else if (d.node !== undefined) {
        out.write(`${d.where}: node/${d.node.name} is valid\n`)
      } else if (d.errors.length === 0) {
        out.write(`${d.where}: ${skippedLine(d) ?? ''}\n`)
      }
    }
  }
  if (count === 0) throw new CliError('no objects found in the given manifests')
  if (errors > 0) throw new CliError(`${errors} error${errors === 1 ? '' : 's'} found`)
}
