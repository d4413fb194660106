// `logs` and `exec` through any agent: the agent the CLI talks to (the entry) hands a signed
// request to each host it names, over OPS_PROTOCOL (or to its own OpsTarget when it is one
// of them), and merges what comes back, each frame tagged with its host. The entry checks
// the request too, to refuse early with a clear answer, but only the target's check counts
// (the entry never uses up a nonce it does not serve). A stream ends when the target is
// done, or when the requester goes away: the entry closes the channel, the target sees it and
// stops reading the container.

import type { Logger } from 'pino'
import { parseDsKey } from '../../core/keyspace.js'
import { checkOpsRequest, OpsRequestError, type OpsRequest } from '../../core/ops-request.js'
import { byCodeUnit } from '../../core/order.js'
import type { Clock } from '../clock.js'
import type { NodeView } from '../membership/membership.js'
import { OPS_PROTOCOL } from '../network/constants.js'
import type { ChannelLimits, FrameChannel, Transport } from '../transport.js'
import { clientFrameSchema, decodeFrame, encodeFrame, OPS_LIMITS, serverFrameSchema, type NodeFrame } from './frames.js'
import type { OpsTarget, Send } from './target.js'

export interface OpsOptions {
  transport: Pick<Transport, 'serve' | 'open'>
  clock: Clock
  /** The hosts this agent knows (their records name their peer ids, addresses and copies). */
  nodes: () => NodeView[]
  selfName: () => string
  trusts: (author: string) => boolean
  /** This host's side; absent when the agent runs no containers (it can still forward). */
  target: OpsTarget | undefined
  log: Logger
}

/** Stdin of an exec: whole, or streamed (an interactive session). */
export type Stdin = Uint8Array | AsyncIterable<Uint8Array> | undefined

/** Sink receives the frames of every host; awaited, so a slow client slows the streams. */
export type Sink = (frame: NodeFrame) => Promise<void>

/** OpsError is thrown by `run` for a request refused before any host was asked; `status` is the HTTP status to answer. */
export class OpsError extends Error {
  override readonly name = 'OpsError'
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

const LIMITS: ChannelLimits = { maxFrameBytes: OPS_LIMITS.maxFrameBytes, timeoutMs: OPS_LIMITS.openTimeoutMs, idleMs: OPS_LIMITS.idleMs }
const STDIN_CHUNK = 32 * 1024

export class Ops {
  private readonly o: OpsOptions
  private running = 0

  constructor(opts: OpsOptions) {
    this.o = opts
  }

  /** start serves OPS_PROTOCOL: requests forwarded by other agents for this host's copies. */
  async start(): Promise<void> {
    await this.o.transport.serve(OPS_PROTOCOL, (channel) => this.serveChannel(channel), { ...LIMITS, maxStreams: OPS_LIMITS.maxStreams })
  }

  /** serveChannel reads the request (and stdin frames), hands it to the target and writes its frames back. */
  private async serveChannel(channel: FrameChannel): Promise<void> {
    const send = (f: unknown): Promise<void> => channel.write(encodeFrame(f))
    const request = await channel.read()
    if (this.o.target === undefined) {
      await send({ t: 'error', message: `node ${this.o.selfName()} runs no containers (--docker none)` })
      return
    }
    let input: unknown
    try {
      input = JSON.parse(new TextDecoder().decode(request))
    } catch {
      await send({ t: 'error', reason: 'malformed', message: 'the request is not JSON' })
      return
    }
    const gone = new AbortController()
    const wantsStdin = (input as { exec?: { stdin?: unknown } } | null)?.exec?.stdin === true
    // The requester closing the channel ends the operation: after stdin (if any), keep reading.
    const stdin = wantsStdin ? readStdin(channel, gone) : undefined
    if (!wantsStdin) void watchClose(channel, gone)
    await this.o.target.handle(input, stdin, send, gone.signal)
    gone.abort()
  }

  /**
   * run serves one API request: checks it, finds the hosts it names, and streams their
   * frames to `sink` until every host is done or `signal` aborts. Throws OpsError when it is
   * refused before any host is asked.
   */
  async run(input: unknown, stdin: Stdin, sink: Sink, signal: AbortSignal): Promise<void> {
    let r: OpsRequest
    try {
      r = checkOpsRequest(input, this.o.clock.wall(), this.o.trusts)
    } catch (err) {
      const e = err as OpsRequestError
      throw new OpsError(e.reason === 'malformed' ? 400 : 403, e.message)
    }
    const hosts = this.hosts(r)
    const follow = r.logs?.follow === true && !r.logs.previous
    if (follow && hosts.length > OPS_LIMITS.maxFollowHosts) throw new OpsError(400, `a follow reads at most ${OPS_LIMITS.maxFollowHosts} hosts at once; ${hosts.length} run a copy: pick fewer (--node)`)
    if (this.running >= OPS_LIMITS.maxApiOperations) throw new OpsError(429, `this agent runs ${OPS_LIMITS.maxApiOperations} operations already; try again shortly`)
    if (stdin instanceof Uint8Array && stdin.length > OPS_LIMITS.maxStdinBytes) throw new OpsError(413, `stdin exceeds ${OPS_LIMITS.maxStdinBytes} bytes`)
    this.running++
    try {
      const one = (h: NodeView): Promise<void> => this.runOn(h, r, stdin, (f) => sink({ ...f, node: h.record.name }), signal).catch((err: unknown) => sink({ t: 'error', message: (err as Error).message, node: h.record.name }).catch(() => undefined))
      // A follow reads every host at once; otherwise hostsAtOnce at a time.
      const queue = [...hosts]
      const workers = Array.from({ length: follow ? hosts.length : Math.min(OPS_LIMITS.hostsAtOnce, hosts.length) }, async () => {
        for (let h = queue.shift(); h !== undefined && !signal.aborted; h = queue.shift()) await one(h)
      })
      await Promise.all(workers)
    } finally {
      this.running--
    }
  }

  /** hosts are the nodes a request names: one by name, or (`*`) every known one that reports a copy. */
  private hosts(r: OpsRequest): NodeView[] {
    const ref = parseDsKey(r.ds)
    const known = this.o.nodes().filter((n) => n.state !== 'Left')
    if (r.node !== '*') {
      const n = known.find((x) => x.record.name === r.node)
      if (n === undefined) throw new OpsError(404, `nodes "${r.node}" not found`)
      return [n]
    }
    const running = known.filter((n) => ref !== undefined && n.record.pods[ref.key] !== undefined).sort((a, b) => byCodeUnit(a.record.name, b.record.name))
    if (running.length === 0) throw new OpsError(404, `no node runs a copy of daemonset.apps/${ref?.name ?? r.ds}`)
    return running
  }

  /** runOn hands the request to one host: this one's target, or another's over OPS_PROTOCOL. */
  private async runOn(host: NodeView, r: OpsRequest, stdin: Stdin, sink: Send, signal: AbortSignal): Promise<void> {
    const input = stdin instanceof Uint8Array ? once(stdin) : stdin
    if (host.record.name === this.o.selfName()) {
      if (this.o.target === undefined) throw new Error(`node ${host.record.name} runs no containers (--docker none)`)
      await this.o.target.handle(r, input === undefined ? undefined : bounded(input), sink, signal)
      return
    }
    if (signal.aborted) return
    const channel = await this.o.transport.open(host.record.peerId, OPS_PROTOCOL, LIMITS, host.record.addresses.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${host.record.peerId}`)))
    const leave = (): void => void channel.close().catch(() => undefined)
    signal.addEventListener('abort', leave, { once: true })
    try {
      await channel.write(encodeFrame(r))
      if (r.exec?.stdin === true) {
        // Stdin goes on beside the output: an interactive session types as it reads.
        void (async () => {
          for await (const bytes of bounded(input ?? once(new Uint8Array()))) {
            for (let i = 0; i < bytes.length; i += STDIN_CHUNK) await channel.write(encodeFrame({ t: 'in', d: Buffer.from(bytes.subarray(i, i + STDIN_CHUNK)).toString('base64') }))
          }
          await channel.write(encodeFrame({ t: 'eof' }))
        })().catch((err: unknown) => {
          this.o.log.debug({ err }, 'exec stdin failed')
          leave()
        })
      }
      for (;;) {
        const f = decodeFrame(await channel.read(), serverFrameSchema)
        if (f.t === 'ping') continue
        await sink(f)
        if (f.t === 'end' || f.t === 'error') break
      }
    } catch (err) {
      if (!signal.aborted) throw err
    } finally {
      signal.removeEventListener('abort', leave)
      leave()
    }
  }
}

/** readStdin yields the stdin bytes the requester sends until its eof (bounded), then watches for the channel's end. */
async function* readStdin(channel: FrameChannel, gone: AbortController): AsyncGenerator<Uint8Array> {
  let total = 0
  try {
    for (;;) {
      const f = decodeFrame(await channel.read(), clientFrameSchema)
      if (f.t === 'eof') break
      const bytes = Buffer.from(f.d, 'base64')
      total += bytes.length
      if (total > OPS_LIMITS.maxStdinBytes) throw new Error(`stdin exceeds ${OPS_LIMITS.maxStdinBytes} bytes`)
      yield bytes
    }
  } catch (err) {
    gone.abort()
    throw err
  }
  void watchClose(channel, gone)
}

/** watchClose reads until the channel ends (the requester closed it or went away), then aborts `gone`. */
async function watchClose(channel: FrameChannel, gone: AbortController): Promise<void> {
  try {
    for (;;) await channel.read()
  } catch {
    gone.abort()
  }
}

/** bounded passes stdin on, failing past maxStdinBytes in all. */
async function* bounded(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const b of input) {
    total += b.length
    if (total > OPS_LIMITS.maxStdinBytes) throw new Error(`stdin exceeds ${OPS_LIMITS.maxStdinBytes} bytes`)
    yield b
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  if (bytes.length > 0) yield bytes
}
