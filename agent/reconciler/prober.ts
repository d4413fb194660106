// Readiness probing: runs each running container's readiness check (core/probe.ts, read
// from its label) every period, and says whether it passes: an exec in the container
// (through the runtime), an HTTP GET (2xx/3xx) or a TCP connect to the pod. A container
// without a check is ready when running; one with a check starts unready, as in Kubernetes.
// Timers come from the injected clock; the prober never decides what to run.

import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect } from 'node:net'
import type { Logger } from 'pino'
import { parseReadinessCheck, type ReadinessCheck } from '../../core/probe.js'
import type { Clock, Timer } from '../clock.js'
import type { ContainerRuntime } from '../runtime/runtime.js'

interface Probing {
  check: ReadinessCheck
  owner: string
  ready: boolean
  successes: number
  failures: number
  lastError: string
  timer: Timer | undefined
}

/** ProbeSubject is one managed container as the reconciler sees it. */
export interface ProbeSubject {
  name: string
  running: boolean
  podOwner: string
  readiness?: string
}

/** ProbeResult is a container's readiness as last probed. */
export interface ProbeResult {
  ready: boolean
  /** Why it is unready (the last failure), when it is. */
  why?: string
}

function httpGet(url: URL, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false, headers: { 'user-agent': 'daemonmesh-probe' } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: timeoutMs })
    s.on('connect', () => {
      s.destroy()
      resolve()
    })
    s.on('timeout', () => s.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    s.on('error', reject)
  })
}

export class Prober {
  private readonly probes = new Map<string, Probing>()
  private readonly runtime: Pick<ContainerRuntime, 'exec' | 'address'>
  private readonly clock: Clock
  private readonly log: Logger
  private readonly onChange: () => void

  /** onChange is called (never concurrently with itself) when a container's readiness flips. */
  constructor(runtime: Pick<ContainerRuntime, 'exec' | 'address'>, clock: Clock, log: Logger, onChange: () => void) {
    this.runtime = runtime
    this.clock = clock
    this.log = log
    this.onChange = onChange
  }

  /** sync starts probing running containers with a check and stops probing the others. */
  sync(containers: readonly ProbeSubject[]): void {
    const live = new Set<string>()
    for (const c of containers) {
      const check = c.running ? parseReadinessCheck(c.readiness) : undefined
      if (check === undefined) continue
      live.add(c.name)
      if (this.probes.has(c.name)) continue
      const p: Probing = { check, owner: c.podOwner, ready: false, successes: 0, failures: 0, lastError: '', timer: undefined }
      this.probes.set(c.name, p)
      p.timer = this.clock.after(check.initialDelaySeconds * 1000, () => void this.run(c.name, p))
    }
    for (const [name, p] of this.probes) {
      if (live.has(name)) continue
      p.timer?.cancel()
      this.probes.delete(name)
    }
  }

  /** result returns a probed container's readiness; undefined when it has no check (ready when running). */
  result(name: string): ProbeResult | undefined {
    const p = this.probes.get(name)
    if (p === undefined) return undefined
    return p.ready || p.lastError === '' ? { ready: p.ready } : { ready: false, why: `readiness probe failed: ${p.lastError}` }
  }

  stop(): void {
    for (const p of this.probes.values()) p.timer?.cancel()
    this.probes.clear()
  }

  private async attempt(name: string, p: Probing): Promise<void> {
    const { check } = p
    const timeoutMs = check.timeoutSeconds * 1000
    if (check.exec !== undefined) {
      const code = await this.runtime.exec(name, check.exec, timeoutMs)
      if (code !== 0) throw new Error(`command exited with ${code}`)
      return
    }
    const host = check.http?.host ?? check.tcp?.host ?? (await this.runtime.address(p.owner))
    if (host === undefined) throw new Error('the pod has no address')
    if (check.http !== undefined) {
      const url = new URL(`${check.http.scheme}://${host.includes(':') ? `[${host}]` : host}:${check.http.port}`)
      url.pathname = check.http.path
      const status = await httpGet(url, timeoutMs)
      if (status < 200 || status >= 400) throw new Error(`HTTP probe failed with statuscode: ${status}`)
    } else if (check.tcp !== undefined) {
      await tcpConnect(host, check.tcp.port, timeoutMs)
    }
  }

  private async run(name: string, p: Probing): Promise<void> {
    if (this.probes.get(name) !== p) return
    const before = p.ready
    try {
      await this.attempt(name, p)
      p.failures = 0
      p.successes++
      p.lastError = ''
      if (p.successes >= p.check.successThreshold) p.ready = true
    } catch (err) {
      p.successes = 0
      p.failures++
      p.lastError = (err as Error).message
      if (p.failures >= p.check.failureThreshold) p.ready = false
    }
    if (this.probes.get(name) !== p) return
    if (before !== p.ready) {
      this.log.info({ container: name, ready: p.ready, ...(p.lastError === '' ? {} : { err: p.lastError }) }, 'readiness changed')
      this.onChange()
    }
    p.timer = this.clock.after(p.check.periodSeconds * 1000, () => void this.run(name, p))
  }
}
