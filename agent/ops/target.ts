// The host side of `logs` and `exec`: a request reaches the host that runs the copy (from
// its own API, or forwarded by another agent over OPS_PROTOCOL), which checks it itself
// (signature, trusted author, lifetime, first use: core/ops-request.ts), finds the copy's
// container, and streams what comes out, bounded in size, rate and time. Nothing here knows
// Docker (ContainerStreams) or libp2p (the caller hands frames in and out).

import type { Logger } from 'pino'
import { dsRef, parseDsKey } from '../../core/keyspace.js'
import { checkOpsRequest, OpsRequestError, type NonceBook, type OpsRequest } from '../../core/ops-request.js'
import type { Clock } from '../clock.js'
import type { ContainerRuntime, ContainerStreams, OutputChunk } from '../runtime/runtime.js'
import { OPS_LIMITS, type ServerFrame } from './frames.js'

export interface OpsTargetOptions {
  runtime: Pick<ContainerRuntime, 'list'> & ContainerStreams
  clock: Clock
  selfName: () => string
  /** trusts says whether a key id is a trusted operator key here. */
  trusts: (author: string) => boolean
  nonces: NonceBook
  log: Logger
}

/** Send hands one frame to the requester; it rejects when the requester went away. */
export type Send = (frame: ServerFrame) => Promise<void>

/** Pace holds a stream to `perSecond` bytes a second (by sleeping before it goes on). */
class Pace {
  private start: number
  private used = 0
  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
  ) {
    this.start = clock.mono()
  }
  async take(n: number): Promise<void> {
    const now = this.clock.mono()
    if (now - this.start >= 1000) {
      this.start = now
      this.used = 0
    }
    this.used += n
    if (this.used > this.perSecond) {
      await this.clock.sleep(Math.max(0, 1000 - (now - this.start)))
      this.start = this.clock.mono()
      this.used = 0
    }
  }
}

/** OpsTarget serves requests for this host's copies. */
export class OpsTarget {
  private readonly o: OpsTargetOptions

  constructor(opts: OpsTargetOptions) {
    this.o = opts
  }

  /**
   * handle checks `input` and serves it: output frames, then `exit` (exec) and `end`, or an
   * `error` frame. It returns when done, when `signal` aborts (the requester went away), or
   * when a frame cannot be sent. It never throws.
   */
  async handle(input: unknown, stdin: AsyncIterable<Uint8Array> | undefined, send: Send, signal: AbortSignal): Promise<void> {
    const self = this.o.selfName()
    let r: OpsRequest
    try {
      r = checkOpsRequest(input, this.o.clock.wall(), this.o.trusts)
      if (r.node !== '*' && r.node !== self) throw new OpsRequestError('malformed', `the request is for node ${r.node}, not ${self}`)
      this.o.nonces.use(r, this.o.clock.wall())
    } catch (err) {
      const reason = err instanceof OpsRequestError ? err.reason : 'malformed'
      this.o.log.warn({ reason, author: String((input as { author?: unknown } | null)?.author ?? '').slice(0, 64) }, 'operations request refused')
      await send({ t: 'error', reason, message: (err as Error).message.slice(0, 1024) }).catch(() => undefined)
      return
    }
    const log = this.o.log.child({ ds: r.ds, kind: r.kind, nonce: r.nonce })
    log.info({ author: r.author, container: r.container, ...(r.exec === undefined ? { follow: r.logs?.follow } : { command: r.exec.command[0] }) }, r.kind === 'exec' ? 'exec request accepted' : 'logs request accepted')
    const began = this.o.clock.mono()
    try {
      const container = await this.container(r, self)
      if (r.logs !== undefined) await this.logs(container, r, send, signal)
      else await this.exec(container, r, stdin, send, signal)
      await send({ t: 'end' })
    } catch (err) {
      if (!signal.aborted) {
        log.debug({ err }, 'operations request failed')
        await send({ t: 'error', message: (err as Error).message.slice(0, 1024) }).catch(() => undefined)
      }
    }
    log.info({ ms: Math.round(this.o.clock.mono() - began), requesterGone: signal.aborted }, 'operations request ended')
  }

  /** container finds the Docker name of the copy's container (default: the template's first), running and newest first. */
  private async container(r: OpsRequest, self: string): Promise<string> {
    const ref = parseDsKey(r.ds) ?? dsRef(undefined, r.ds)
    const mine = (await this.o.runtime.list(self)).filter((c) => c.daemonSet === ref.label)
    if (mine.length === 0) throw new Error(`node ${self} runs no copy of daemonset.apps/${ref.name}`)
    const ordered = [...mine].sort((a, b) => Number(b.running) - Number(a.running) || b.createdAt - a.createdAt)
    const pick = r.container === undefined ? ordered.find((c) => c.name === c.podOwner) : ordered.find((c) => c.container === r.container)
    if (pick === undefined) {
      const names = [...new Set(mine.map((c) => c.container))].sort()
      throw new Error(`container ${r.container ?? '(first)'} is not valid for pod ${ref.name}-${self}: choose one of [${names.join(' ')}]`)
    }
    return pick.name
  }

  private async logs(name: string, r: OpsRequest, send: Send, outer: AbortSignal): Promise<void> {
    const p = r.logs
    if (p === undefined) return
    const ctl = new AbortController()
    const signal = AbortSignal.any([outer, ctl.signal])
    const timers = [
      // Not following: done within logsTimeoutMs. Following: keep-alives, whose failure means the requester is gone.
      p.follow && !p.previous
        ? this.o.clock.every(OPS_LIMITS.pingMs, () => void send({ t: 'ping' }).catch(() => ctl.abort()))
        : this.o.clock.after(OPS_LIMITS.logsTimeoutMs, () => ctl.abort()),
    ]
    const pace = new Pace(this.o.clock, OPS_LIMITS.maxBytesPerSecond)
    let sent = 0
    try {
      for await (const chunk of this.o.runtime.logs(name, p, signal)) {
        sent += chunk.data.length
        if (!p.follow && sent > OPS_LIMITS.maxLogBytes) {
          await send({ t: 'error', message: `log truncated after ${OPS_LIMITS.maxLogBytes} bytes: use --tail or --since` })
          return
        }
        await pace.take(chunk.data.length)
        await send(out(chunk))
      }
    } catch (err) {
      if (ctl.signal.aborted && !outer.aborted && !(p.follow && !p.previous)) throw new Error(`logs not followed end after ${OPS_LIMITS.logsTimeoutMs / 1000}s: use --tail or --since`)
      throw err
    } finally {
      for (const t of timers) t.cancel()
    }
  }

  private async exec(name: string, r: OpsRequest, stdin: AsyncIterable<Uint8Array> | undefined, send: Send, outer: AbortSignal): Promise<void> {
    const e = r.exec
    if (e === undefined) return
    const ctl = new AbortController()
    const timer = this.o.clock.after(OPS_LIMITS.execTimeoutMs, () => ctl.abort())
    // A quiet command still keeps its stream alive, and a requester gone is noticed.
    const ping = this.o.clock.every(OPS_LIMITS.pingMs, () => void send({ t: 'ping' }).catch(() => ctl.abort()))
    const pace = new Pace(this.o.clock, OPS_LIMITS.maxBytesPerSecond)
    try {
      const code = await this.o.runtime.execAttached(
        name,
        e.command,
        { tty: e.tty, ...(e.stdin && stdin !== undefined ? { stdin } : {}) },
        async (chunk) => {
          await pace.take(chunk.data.length)
          await send(out(chunk))
        },
        AbortSignal.any([outer, ctl.signal]),
      )
      await send({ t: 'exit', code: Math.max(-1, Math.min(255, code)) })
    } catch (err) {
      if (ctl.signal.aborted && !outer.aborted) throw new Error(`exec ended after ${OPS_LIMITS.execTimeoutMs / 1000}s`)
      throw err
    } finally {
      timer.cancel()
      ping.cancel()
    }
  }
}

const out = (c: OutputChunk): ServerFrame => ({ t: 'out', s: c.stream, d: Buffer.from(c.data).toString('base64') })
