// `daemonmesh plan -f ds.yaml --nodes nodes.yaml`: for every node and DaemonSet, would a
// copy run there and, if not, why. Reads Kubernetes Node objects, so people can plan
// against the nodes they already have.

import { documentErrors, documentWarnings, readBundle, refOf, parseManifests, revisionOf, shouldRun, type DaemonSet, type NodeInfo } from '../../core/index.js'
import type { AgentTarget } from '../client.js'
import { fleetNodes, type FleetNode } from '../fleet.js'
import { CliError, UsageError } from '../errors.js'
import { readInputs } from '../inputs.js'
import { table } from '../table.js'

export interface PlanOptions {
  filename: string[]
  /** Read directories' subdirectories too (-f and --nodes). */
  recursive?: boolean
  nodes?: string[]
  output?: string
}

/** PlanRow is one line of `plan -o json`; `action` only against the live fleet. */
export interface PlanRow {
  daemonset: string
  node: string
  run: boolean
  reasons: string[]
  action?: 'gain' | 'keep' | 'lose' | 'update' | 'none'
}

/** liveRows adds, per node, what applying would do given the copy it reports now. */
export function liveRows(daemonSets: readonly DaemonSet[], nodes: readonly FleetNode[]): PlanRow[] {
  return daemonSets.flatMap((ds) => {
    const rev = revisionOf(ds)
    const key = refOf(ds).key
    return nodes.map((n) => {
      const v = shouldRun(n.info, ds)
      const pod = n.pods[key]
      let action: NonNullable<PlanRow['action']>
      if (v.shouldRun) action = pod === undefined ? 'gain' : pod.revision === rev ? 'keep' : 'update'
      else if (pod !== undefined) action = v.shouldContinueRunning ? 'keep' : 'lose'
      else action = 'none'
      const reasons = v.shouldRun ? [] : [...v.reasons, ...(action === 'keep' ? ['a running copy stays: the taint is NoSchedule'] : [])]
      return { daemonset: key, node: n.info.name, run: v.shouldRun, reasons, action }
    })
  })
}

/** fail prints every error and throws: a plan is made from valid inputs only. */
function fail(errors: string[], flag: string, err: NodeJS.WritableStream): never {
  for (const e of errors) err.write(`error: ${e}\n`)
  throw new CliError(`${flag}: ${errors.length} error${errors.length === 1 ? '' : 's'} found; nothing planned`)
}

/** loadDaemonSets reads the -f bundles as apply does: their DaemonSets, every other object skipped (said on stderr). */
async function loadDaemonSets(paths: string[], recursive: boolean, err: NodeJS.WritableStream): Promise<DaemonSet[]> {
  const found: DaemonSet[] = []
  const errors: string[] = []
  for (const input of await readInputs(paths, { recursive })) {
    const bundle = readBundle(parseManifests(input.text, input.source))
    for (const w of bundle.warnings) err.write(`warning: ${w}\n`)
    errors.push(...bundle.errors)
    for (const o of bundle.objects) {
      // ConfigMaps and Secrets change no placement: plan passes over them silently.
      if (o.daemonSet !== undefined) found.push(o.daemonSet)
      else if (o.skipped !== undefined) err.write(`${o.resource} skipped: ${o.skipped}\n`)
    }
  }
  if (errors.length > 0) fail(errors, '-f', err)
  if (found.length === 0) throw new CliError('-f: no DaemonSet found')
  return found
}

/** loadNodes reads the --nodes files: Node objects (and lists of them) only. */
async function loadNodes(paths: string[], recursive: boolean, err: NodeJS.WritableStream): Promise<NodeInfo[]> {
  const found: NodeInfo[] = []
  const errors: string[] = []
  for (const input of await readInputs(paths, { flag: '--nodes', recursive })) {
    const docs = parseManifests(input.text, input.source)
    errors.push(...documentErrors(docs))
    for (const d of docs) {
      for (const w of documentWarnings(d)) err.write(`warning: ${w}\n`)
      if (d.errors.length > 0) continue
      if (d.node === undefined) errors.push(`${d.where}: ${d.kind} ${d.name}: expected kind Node with --nodes`)
      else found.push(d.node)
    }
  }
  if (errors.length > 0) fail(errors, '--nodes', err)
  if (found.length === 0) throw new CliError('--nodes: no Node found')
  return found
}

/** planRows computes the verdict for every (DaemonSet, node) pair, DaemonSets in input order. */
export function planRows(daemonSets: readonly DaemonSet[], nodes: readonly NodeInfo[]): PlanRow[] {
  return daemonSets.flatMap((ds) => {
    const key = refOf(ds).key
    return nodes.map((node) => {
      const v = shouldRun(node, ds)
      return { daemonset: key, node: node.name, run: v.shouldRun, reasons: v.reasons }
    })
  })
}

/** runPlan prints the plan as a table (default) or JSON. */
export async function runPlan(opts: PlanOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, target?: AgentTarget): Promise<void> {
  const output = opts.output ?? 'table'
  if (output !== 'table' && output !== 'json') throw new UsageError(`-o ${output}: unsupported output format; use table or json`)
  const recursive = opts.recursive === true
  const daemonSets = await loadDaemonSets(opts.filename, recursive, err)
  let rows: PlanRow[]
  if (opts.nodes === undefined || opts.nodes.length === 0) {
    // Against the live fleet, through the agent.
    if (target === undefined) throw new UsageError('--nodes FILE, or a reachable agent, is required')
    rows = liveRows(daemonSets, await fleetNodes(target))
  } else {
    rows = planRows(daemonSets, await loadNodes(opts.nodes, recursive, err))
  }
  if (output === 'json') {
    out.write(JSON.stringify(rows, null, 2) + '\n')
    return
  }
  if (rows.some((r) => r.action !== undefined)) {
    out.write(table(['DAEMONSET', 'NODE', 'ACTION', 'REASONS'], rows.map((r) => [r.daemonset, r.node, r.action ?? '', r.reasons.join('; ')])))
    return
  }
  out.write(table(['DAEMONSET', 'NODE', 'RUN', 'REASONS'], rows.map((r) => [r.daemonset, r.node, r.run ? 'yes' : 'no', r.reasons.join('; ')])))
}
