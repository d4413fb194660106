// Probing, as the kubelet's probe workers: for each running container, its startup probe
// first (when it has one), then its readiness and liveness probes, each on its own timer
// (core/probe.ts, read from the container's labels; handlers.ts runs them). It says whether
// a container is ready (a container without a readiness probe is ready when running and
// started; one with a probe starts unready, as in Kubernetes) and whether it is unhealthy (its
// liveness probe failed failureThreshold times in a row, or its startup probe did): the
// planner decides to restart it. Timers come from the injected clock; the prober never
// decides what to run.

import type { Logger } from 'pino'
import { parseProbeCheck, type ProbeCheck, type ProbeKind } from '../../core/probe.js'
import type { Clock, Timer } from '../clock.js'
import type { ContainerRuntime } from '../runtime/runtime.js'
import { runHandler } from './handlers.js'

interface Loop {
  kind: ProbeKind
  check: ProbeCheck
  successes: number
  failures: number
  lastError: string
  timer: Timer | undefined
}

interface Probing {
  id: string
  owner: string
  /** The startup probe succeeded (or there is none): readiness and liveness run. */
  started: boolean
  ready: boolean
  /** Why the container is to be restarted (its liveness or startup probe failed), once it is. */
  unhealthy: string | undefined
  loops: Loop[]
}

/** ProbeSubject is one managed container as the reconciler sees it. */
export interface ProbeSubject {
  id: string
  name: string
  running: boolean
  podOwner: string
  readiness?: string
  liveness?: string
  startup?: string
}

/** ProbeResult is a container's readiness and health as last probed. */
export interface ProbeResult {
  ready: boolean
  /** Why it is unready (the last failure), when it is. */
  why?: string
  /** Why it must be restarted (`Liveness probe failed: …`), when it must. */
  unhealthy?: string
}

/** ProbeFailure is one failed probe attempt, for events (`Unhealthy`). */
export interface ProbeFailure {
  container: string
  kind: ProbeKind
  message: string
}

const KIND_TEXT: Record<ProbeKind, string> = { readiness: 'Readiness', liveness: 'Liveness', startup: 'Startup' }

export class Prober {
  private readonly probes = new Map<string, Probing>()
  private readonly runtime: Pick<ContainerRuntime, 'exec' | 'address'>
  private readonly clock: Clock
  private readonly log: Logger
  private readonly onChange: () => void
  private readonly onFailure: (f: ProbeFailure) => void

  /**
   * onChange is called when a container's readiness flips or it turns unhealthy; onFailure
   * for every failed attempt (the reconciler records it as an event).
   */
  constructor(runtime: Pick<ContainerRuntime, 'exec' | 'address'>, clock: Clock, log: Logger, onChange: () => void, onFailure: (f: ProbeFailure) => void = () => undefined) {
    this.runtime = runtime
    this.clock = clock
    this.log = log
    this.onChange = onChange
    this.onFailure = onFailure
  }

  /** sync starts probing running containers with a probe and stops probing the others (and the ones that were replaced). */
  sync(containers: readonly ProbeSubject[]): void {
    const live = new Set<string>()
    for (const c of containers) {
      if (!c.running) continue
      const checks = { readiness: parseProbeCheck(c.readiness), liveness: parseProbeCheck(c.liveness), startup: parseProbeCheck(c.startup) }
      if (checks.readiness === undefined && checks.liveness === undefined && checks.startup === undefined) continue
      live.add(c.name)
      const had = this.probes.get(c.name)
      if (had !== undefined && had.id === c.id) continue
      if (had !== undefined) this.cancel(had)
      const loops: Loop[] = (['startup', 'readiness', 'liveness'] as const).flatMap((kind) => {
        const check = checks[kind]
        return check === undefined ? [] : [{ kind, check, successes: 0, failures: 0, lastError: '', timer: undefined }]
      })
      const p: Probing = { id: c.id, owner: c.podOwner, started: checks.startup === undefined, ready: checks.readiness === undefined && checks.startup === undefined, unhealthy: undefined, loops }
      this.probes.set(c.name, p)
      for (const l of loops) if (l.kind === 'startup' || p.started) this.schedule(c.name, p, l, l.check.initialDelaySeconds * 1000)
    }
    for (const [name, p] of this.probes) {
      if (live.has(name)) continue
      this.cancel(p)
      this.probes.delete(name)
    }
  }

  /** result returns a probed container's readiness and health; undefined when it has no probe (ready when running). */
  result(name: string): ProbeResult | undefined {
    const p = this.probes.get(name)
    if (p === undefined) return undefined
    const unready = p.loops.find((l) => (l.kind === 'readiness' || l.kind === 'startup') && l.lastError !== '')
    return {
      ready: p.ready,
      ...(p.ready || unready === undefined ? {} : { why: `${unready.kind} probe failed: ${unready.lastError}` }),
      ...(p.unhealthy === undefined ? {} : { unhealthy: p.unhealthy }),
    }
  }

  stop(): void {
    for (const p of this.probes.values()) this.cancel(p)
    this.probes.clear()
  }

  private cancel(p: Probing): void {
    for (const l of p.loops) l.timer?.cancel()
  }

  private schedule(name: string, p: Probing, l: Loop, ms: number): void {
    l.timer = this.clock.after(ms, () => void this.run(name, p, l))
  }

  private async run(name: string, p: Probing, l: Loop): Promise<void> {
    if (this.probes.get(name) !== p || p.unhealthy !== undefined) return
    const before = { ready: p.ready, unhealthy: p.unhealthy }
    try {
      await runHandler(this.runtime, name, p.owner, l.check, l.check.timeoutSeconds * 1000)
      l.failures = 0
      l.successes++
      l.lastError = ''
    } catch (err) {
      l.successes = 0
      l.failures++
      l.lastError = (err as Error).message
      if (this.probes.get(name) === p) this.onFailure({ container: name, kind: l.kind, message: `${KIND_TEXT[l.kind]} probe failed: ${l.lastError}`.slice(0, 1000) })
    }
    if (this.probes.get(name) !== p) return
    const passed = l.successes >= l.check.successThreshold
    const failed = l.failures >= l.check.failureThreshold
    let next = true
    if (l.kind === 'readiness') {
      if (passed) p.ready = true
      if (failed) p.ready = false
    } else if (l.kind === 'liveness' && failed) {
      p.unhealthy = `Liveness probe failed: ${l.lastError}`
    } else if (l.kind === 'startup') {
      if (failed) p.unhealthy = `Startup probe failed: ${l.lastError}`
      else if (passed) {
        // Started: the startup probe stops; readiness and liveness begin.
        p.started = true
        next = false
        if (!p.loops.some((x) => x.kind === 'readiness')) p.ready = true
        for (const x of p.loops) if (x.kind !== 'startup') this.schedule(name, p, x, x.check.initialDelaySeconds * 1000)
      }
    }
    if (p.unhealthy !== undefined) {
      this.cancel(p)
      next = false
    }
    if (before.ready !== p.ready || before.unhealthy !== p.unhealthy) {
      this.log.info({ container: name, ready: p.ready, ...(p.unhealthy === undefined ? {} : { unhealthy: p.unhealthy }), ...(l.lastError === '' ? {} : { err: l.lastError }) }, 'probe result changed')
      this.onChange()
    }
    if (next) this.schedule(name, p, l, l.check.periodSeconds * 1000)
  }
}
