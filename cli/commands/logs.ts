// `daemonmesh logs ds/NAME [--node HOST | --all-nodes] [...]` and `daemonmesh logs POD`,
// and `daemonmesh exec ds/NAME --node HOST -- CMD...`: a request signed with the operator
// key, short-lived and single-use, sent to one agent, which forwards it to the hosts that run
// the copies; their output streams back. docs/operations.md.

import { parseDuration } from '../../core/duration.js'
import { parseDsKey, type DsRef } from '../../core/keyspace.js'
import { MAX_SINCE_SECONDS, MAX_TAIL_LINES, signOpsRequest, type UnsignedOpsRequest } from '../../core/ops-request.js'
import type { DaemonSet } from '../../core/types.js'
import { ApiError, call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { fleetNodes } from '../fleet.js'
import { dsArg, notFound } from '../resources.js'
import { loadOperatorKey } from '../signer.js'
import { sessionCall, streamCall } from '../stream.js'

export interface LogsOptions {
  namespace?: string
  node?: string
  allNodes?: boolean
  prefix?: boolean
  container?: string
  follow?: boolean
  tail?: string
  since?: string
  previous?: boolean
  timestamps?: boolean
  maxLogRequests?: string
  key?: string
}

export interface ExecOptions {
  namespace?: string
  node?: string
  container?: string
  stdin?: boolean
  tty?: boolean
  key?: string
}

/** Where a command points: the DaemonSet and the host (`*`: every host running a copy). */
interface Aim {
  ds: DsRef
  node: string
}

/** aim reads `ds/NAME` (with --node, or every node, or the only one) or a pod name as `get pods` prints it. */
async function aim(arg: string, ns: string, node: string | undefined, allNodes: boolean, target: AgentTarget, err: NodeJS.WritableStream): Promise<Aim> {
  if (node !== undefined && allNodes) throw new UsageError('--node and --all-nodes exclude each other')
  const ds = dsArg(arg, ns)
  const nodes = await fleetNodes(target)
  if (ds !== undefined) {
    if (node !== undefined) return { ds, node }
    if (allNodes) return { ds, node: '*' }
    const running = nodes.filter((n) => n.pods[ds.key] !== undefined).map((n) => n.info.name).sort()
    if (running[0] === undefined) throw new CliError(`no node runs a copy of daemonset.apps/${ds.name}`)
    if (running.length > 1) err.write(`Found ${running.length} pods, using pod/${ds.name}-${running[0]} (pick one with --node, or every one with --all-nodes)\n`)
    return { ds, node: running[0] }
  }
  if (arg.includes('/')) throw new UsageError(`${arg}: give ds/NAME or a pod name as get pods prints it`)
  const match = nodes.flatMap((x) =>
    Object.keys(x.pods)
      .map(parseDsKey)
      .filter((r): r is DsRef => r?.namespace === ns && `${r.name}-${x.info.name}` === arg)
      .map((r) => ({ ds: r, node: x.info.name })),
  )
  if (match[0] === undefined) throw new CliError(notFound('pods', arg, ns))
  if (allNodes) throw new UsageError('--all-nodes goes with ds/NAME, not a pod name')
  return match[0]
}

/** firstContainer returns the template's first container name (what a request without -c means). */
async function firstContainer(ds: DsRef, target: AgentTarget): Promise<string> {
  try {
    const obj = await call<DaemonSet>(target, 'GET', `/v1/daemonsets/${ds.namespace}/${ds.name}`)
    return obj.spec.template.spec.containers[0]?.name ?? ''
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError(notFound('daemonsets.apps', ds.name, ds.namespace))
    throw err
  }
}

function tailOf(flag: string | undefined): number | undefined {
  if (flag === undefined || flag === '-1') return undefined
  if (!/^[0-9]+$/.test(flag) || Number(flag) > MAX_TAIL_LINES) throw new UsageError(`--tail ${flag}: a number of lines from 0 to ${MAX_TAIL_LINES} (-1: all)`)
  return Number(flag)
}

function sinceOf(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined
  const ms = parseDuration(flag)
  if (ms === undefined || ms < 1000 || ms / 1000 > MAX_SINCE_SECONDS) throw new UsageError(`--since ${flag}: a duration from 1s to 720h, such as 10m`)
  return Math.floor(ms / 1000)
}

/** Lines keeps each stream's unfinished line, so a prefix goes before every line and only there. */
class Lines {
  private readonly partial = new Map<string, string>()
  constructor(private readonly out: NodeJS.WritableStream) {}
  write(key: string, prefix: string, text: string): void {
    const all = (this.partial.get(key) ?? '') + text
    const parts = all.split('\n')
    this.partial.set(key, parts.pop() ?? '')
    for (const line of parts) this.out.write(`${prefix}${line}\n`)
  }
  flush(prefixOf: (key: string) => string): void {
    for (const [key, rest] of this.partial) if (rest !== '') this.out.write(`${prefixOf(key)}${rest}\n`)
    this.partial.clear()
  }
}

/** runLogs prints the logs of one copy, or of every copy with --all-nodes; exits 1 when a host failed. */
export async function runLogs(arg: string, opts: LogsOptions, target: AgentTarget, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  const ns = opts.namespace ?? 'default'
  const tail = tailOf(opts.tail)
  const sinceSeconds = sinceOf(opts.since)
  if (opts.previous === true && opts.follow === true) throw new UsageError('--previous cannot be followed (-f)')
  const privateKey = loadOperatorKey(opts.key)
  const a = await aim(arg, ns, opts.node, opts.allNodes === true, target, err)
  if (a.node === '*' && opts.follow === true) {
    const max = opts.maxLogRequests === undefined ? 5 : /^[1-9][0-9]*$/.test(opts.maxLogRequests) ? Number(opts.maxLogRequests) : NaN
    if (Number.isNaN(max)) throw new UsageError(`--max-log-requests ${opts.maxLogRequests ?? ''}: a positive number`)
    const streams = (await fleetNodes(target)).filter((n) => n.pods[a.ds.key] !== undefined).length
    if (streams > max) throw new CliError(`you are attempting to follow ${streams} log streams, but maximum allowed concurrency is ${max}, use --max-log-requests to increase the limit`)
  }
  const container = opts.container ?? (opts.prefix === true ? await firstContainer(a.ds, target) : undefined)
  const req: UnsignedOpsRequest = {
    kind: 'logs',
    ds: a.ds.key,
    node: a.node,
    ...(opts.container === undefined ? {} : { container: opts.container }),
    logs: { follow: opts.follow === true, previous: opts.previous === true, timestamps: opts.timestamps === true, ...(tail === undefined ? {} : { tail }), ...(sinceSeconds === undefined ? {} : { sinceSeconds }) },
  }
  const prefixOf = (node: string): string => (opts.prefix === true ? `[pod/${a.ds.name}-${node}/${container ?? ''}] ` : '')
  const lines = new Lines(out)
  let failed = 0
  await streamCall(target, '/v1/logs', { request: signOpsRequest(req, privateKey, Date.now()) }, (f) => {
    const node = String(f.node)
    if (f.t === 'out') {
      const text = Buffer.from(String(f.d), 'base64').toString('utf8')
      if (opts.prefix === true) lines.write(node, prefixOf(node), text)
      else out.write(text)
    } else if (f.t === 'error') {
      failed++
      err.write(`error: ${a.node === '*' ? `node ${node}: ` : ''}${String(f.message)}\n`)
    }
  })
  lines.flush(prefixOf)
  if (failed > 0) throw new CliError('', 1)
}

/** runExec runs a command in one host's copy and exits with the command's exit code; -i streams stdin (a session), -t with a terminal runs it under a TTY. */
export async function runExec(arg: string, command: string[], opts: ExecOptions, target: AgentTarget, out: NodeJS.WritableStream, err: NodeJS.WritableStream, stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown } = process.stdin): Promise<void> {
  const ns = opts.namespace ?? 'default'
  if (command.length === 0) throw new UsageError('exec: give the command after --, e.g. daemonmesh exec ds/NAME --node HOST -- ls /')
  if (dsArg(arg, ns) !== undefined && opts.node === undefined) throw new UsageError(`exec ${arg}: give the host with --node`)
  const interactive = opts.stdin === true
  const tty = opts.tty === true && interactive && stdin.isTTY === true && typeof stdin.setRawMode === 'function'
  if (opts.tty === true && !tty) err.write('Unable to use a TTY - input is not a terminal or the right kind of file\n')
  const privateKey = loadOperatorKey(opts.key)
  const a = await aim(arg, ns, opts.node, false, target, err)
  const req: UnsignedOpsRequest = { kind: 'exec', ds: a.ds.key, node: a.node, ...(opts.container === undefined ? {} : { container: opts.container }), exec: { command, stdin: interactive, tty } }
  let code: number | undefined
  let error: string | undefined
  const onFrame = (f: Record<string, unknown>): void => {
    if (f.t === 'out') (f.s === 'stderr' ? err : out).write(Buffer.from(String(f.d), 'base64'))
    else if (f.t === 'exit') code = Number(f.code)
    else if (f.t === 'error') error = String(f.message)
  }
  const body = { request: signOpsRequest(req, privateKey, Date.now()) }
  if (interactive) {
    if (tty) stdin.setRawMode?.(true)
    try {
      await sessionCall(target, '/v1/exec', body, stdin, onFrame)
    } finally {
      if (tty) stdin.setRawMode?.(false)
      stdin.pause()
    }
  } else {
    await streamCall(target, '/v1/exec', body, onFrame)
  }
  if (error !== undefined) throw new CliError(error)
  if (code === undefined) throw new CliError('the command ended without an exit code (the host went away?)')
  if (code !== 0) throw new CliError('', code < 0 ? 1 : code)
}
