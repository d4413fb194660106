// The reconciler's hands: performs one step that core's planPass decided, for one copy,
// through the container runtime and the rollout lease, and keeps what later decisions
// need to know of it: failures being backed off (kubelet's 10 s doubling to 5 min), revisions
// whose images were pulled, delete requests carried out. It decides nothing. Steps of
// different copies run concurrently (each copy's worker calls perform for its own steps, one
// at a time); the state kept here is per copy, so they never share an entry.

import type { Logger } from 'pino'
import type { DsRef } from '../../core/keyspace.js'
import { Labels } from '../../core/container-spec.js'
import type { Action, Crash, Failure } from '../../core/pass.js'
import { failureReason } from '../../core/failure.js'
import { parseHooks, type Hook } from '../../core/probe.js'
import type { Removal } from '../../core/reconcile.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { ContainerRuntime } from '../runtime/runtime.js'
import { runHandler } from './handlers.js'
import type { SlotGate } from './ports.js'

/** PodEvent is something that happened to a copy, for its events (Kubernetes' reasons). */
export interface PodEvent {
  /** The copy, DaemonSet label form. */
  copy: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export interface ActorOptions {
  runtime: ContainerRuntime
  clock: Clock
  slots: SlotGate
  timings: Timings['reconciler']
  log: Logger
  /** retry asks for another pass within ms (a back-off ends, a fenced grant). */
  retry: (ms: number) => void
  /** event records what happened to a copy (events.ts). */
  event?: (e: PodEvent) => void
}

/** The least a stop gets after its preStop hook used up the grace (the kubelet's minimum). */
const MIN_STOP_GRACE_SECONDS = 2

/**
 * StepOutcome says whether a step changed what the next decision sees (Docker, a failure
 * recorded, images pulled, a request carried out): the next pass must look; and whether the
 * copy's remaining steps must be dropped (the step failed: starting a new copy after the old
 * one's stop failed could make two).
 */
export interface StepOutcome {
  changed: boolean
  halt: boolean
}

/** Doing tells the copy's worker what the step is doing now (shown in the node record). */
export type Doing = (what: string) => void

const done = (changed: boolean): StepOutcome => ({ changed, halt: false })
const halted: StepOutcome = { changed: true, halt: true }

/** graceText is how a stop is shown: the longest grace among the removals. */
export function graceText(removals: readonly Removal[]): string {
  return `grace ${Math.max(0, ...removals.map((r) => r.graceSeconds ?? 0))} s`
}

export class Actor {
  private readonly opts: ActorOptions
  private readonly log: Logger
  /** Failures being backed off, per DaemonSet label form. */
  readonly failures = new Map<string, Failure>()
  /** Revisions whose images were pulled for an update (`NS.NAME@revision`): once, not every pass. */
  readonly pulled = new Set<string>()
  /** Revisions whose pod was created ahead of its update, or tried (`NS.NAME@revision`): once. */
  readonly prepared = new Set<string>()
  /** Copies restarted for a failed probe, backed off, per DaemonSet label form. */
  readonly crashes = new Map<string, Crash>()
  /** Copies running their init containers now (`Init:I/N`), per DaemonSet label form. */
  readonly initializing = new Map<string, string>()
  /** Restarts made for failed probes, per container name. */
  readonly restarts = new Map<string, number>()
  /** Delete requests carried out (key@hlc), so each runs once. */
  private readonly done = new Set<string>()

  constructor(opts: ActorOptions) {
    this.opts = opts
    this.log = opts.log
  }

  /** handled says whether a delete request was carried out already. */
  handled(request: string): boolean {
    return this.done.has(request)
  }

  /**
   * forgive drops the start and pull failures recorded at or after `since` (wall ms), so
   * those copies are tried again at once. A failed stop keeps its back-off: Docker may still
   * hold the container.
   */
  forgive(since: number): void {
    const copies = [...this.failures].filter(([, f]) => f.during !== 'stop' && (f.at ?? 0) >= since).map(([copy]) => copy)
    for (const copy of copies) this.failures.delete(copy)
    if (copies.length > 0) this.log.info({ copies }, 'docker is back: retrying the copies that failed while it was away')
  }

  /**
   * arrived drops the start failure of each copy whose pod lacked ConfigMaps, Secrets or
   * their keys when it failed, once what it lacks (`lacks`, per copy, from this pass's plans)
   * is no longer that: one arrived or changed, so the copy is tried again at once rather than
   * after its back-off (the kubelet retries such a mount within seconds). Each change to what
   * a copy lacks makes one attempt at most.
   */
  arrived(lacks: ReadonlyMap<string, readonly string[]>): void {
    const copies = [...this.failures].filter(([copy, f]) => {
      const now = lacks.get(copy)
      return f.lacked !== undefined && now !== undefined && now.join('; ') !== f.lacked
    }).map(([copy]) => copy)
    for (const copy of copies) this.failures.delete(copy)
    if (copies.length > 0) this.log.info({ copies }, 'a ConfigMap or Secret a copy lacked arrived: retrying it now')
  }

  /** forget drops the failures of copies that are gone (`keep` says which are not): no DaemonSet, no container. */
  forget(keep: (copy: string) => boolean, containers: ReadonlySet<string>): void {
    for (const copy of this.failures.keys()) if (!keep(copy)) this.failures.delete(copy)
    for (const copy of this.crashes.keys()) if (!keep(copy)) this.crashes.delete(copy)
    for (const name of this.restarts.keys()) if (!containers.has(name)) this.restarts.delete(name)
  }

  private event(copy: string, type: PodEvent['type'], reason: string, message: string): void {
    this.opts.event?.({ copy, type, reason, message: message.slice(0, 1000) })
  }

  /** perform carries out one step of copy `copy` (label form), telling `doing` what it does. */
  async perform(copy: string, a: Action, doing: Doing): Promise<StepOutcome> {
    switch (a.do) {
      case 'remove':
        doing(`Stopping (${graceText(a.removals)})`)
        return (await this.removeAll(copy, a.removals)) ? done(true) : halted
      case 'delete-pod':
        if (this.done.has(a.request)) return done(false)
        this.done.add(a.request)
        this.log.info({ daemonset: a.ref.label }, 'deleting the copy as requested')
        doing(`Stopping (${graceText(a.removals)}): deleted as requested`)
        return (await this.removeAll(copy, a.removals)) ? done(true) : halted
      case 'start':
        doing(`Starting revision ${a.plan.revision}`)
        return (await this.start(a.ref, a.plan, doing, { pulled: false })) ? done(true) : halted
      case 'pull':
        doing(`Pulling the images of revision ${a.plan.revision}`)
        return (await this.pull(a.ref, a.plan)) ? done(true) : halted
      case 'prepare':
        doing(`Creating the pod of revision ${a.plan.revision}`)
        return done(await this.prepare(a.ref, a.plan))
      case 'claim':
        this.opts.slots.claim(a.ref.key, a.revision, a.kind)
        return done(false)
      case 'update':
        return this.update(copy, a, doing)
      case 'release':
        this.opts.slots.release(a.ref.key)
        return done(false)
      case 'restart':
        doing(`Restarting ${a.removals.map((r) => r.name).join(', ')}: ${a.why}`)
        return (await this.restart(copy, a.removals, a.why)) ? done(true) : halted
    }
  }

  /**
   * restart stops containers a probe found unhealthy (preStop first) and backs the copy off
   * (10 s doubling to 5 min; reset once it ran twice the longest back-off without trouble):
   * the planner starts them again when the back-off ends.
   */
  private async restart(copy: string, removals: readonly Removal[], why: string): Promise<boolean> {
    for (const r of removals) {
      this.log.warn({ container: r.name, why }, 'restarting an unhealthy container')
      this.event(copy, 'Normal', 'Killing', `Stopping container ${r.name}: ${why}, will be restarted`)
      try {
        const grace = await this.preStop(copy, r)
        await this.opts.runtime.stopContainer(r.id, grace)
      } catch (err) {
        this.fail(copy, err, 'stop')
        return false
      }
      this.restarts.set(r.name, (this.restarts.get(r.name) ?? 0) + 1)
    }
    this.crashed(copy, why)
    return true
  }

  /** crashed backs a copy off after a restart it needed (a failed probe or postStart hook). */
  private crashed(copy: string, why: string): void {
    const t = this.opts.timings
    const now = this.opts.clock.mono()
    const prev = this.crashes.get(copy)
    const delay = prev === undefined || now - prev.at > 2 * t.backoffMaxMs ? t.backoffStartMs : Math.min(prev.delay * 2, t.backoffMaxMs)
    this.crashes.set(copy, { until: now + delay, delay, why, at: now })
    this.event(copy, 'Warning', 'BackOff', `Back-off ${Math.round(delay / 1000)}s restarting failed container: ${why}`)
    this.opts.retry(delay + 50)
  }

  /**
   * preStop runs a container's preStop hook (when it has one) within its grace period, as
   * the kubelet, and returns the grace left for the stop signal (at least 2 s). A hook that
   * fails or runs out of time is logged; the stop goes on.
   */
  private async preStop(copy: string, r: Removal): Promise<number> {
    const grace = r.graceSeconds ?? 30
    const hook = parseHooks(r.hooks)?.preStop
    if (hook === undefined) return grace
    const started = this.opts.clock.mono()
    try {
      await this.runHook(r.name, r.podOwner ?? r.name, hook, grace * 1000)
    } catch (err) {
      this.log.warn({ container: r.name, err: (err as Error).message }, 'preStop hook failed')
      this.event(copy, 'Warning', 'FailedPreStopHook', `PreStopHook failed for ${r.name}: ${(err as Error).message}`)
    }
    const used = Math.ceil((this.opts.clock.mono() - started) / 1000)
    return Math.max(MIN_STOP_GRACE_SECONDS, grace - used)
  }

  private runHook(name: string, owner: string, hook: Hook, timeoutMs: number): Promise<void> {
    return runHandler(this.opts.runtime, name, owner, hook, Math.max(1000, timeoutMs))
  }

  /**
   * postStart runs the started pod's postStart hooks, each right after its container started,
   * within the grace period. A hook that fails restarts its container, as the kubelet kills
   * it (FailedPostStartHook), with the back-off.
   */
  private async postStart(copy: string, plan: Parameters<ContainerRuntime['startPod']>[0]): Promise<void> {
    for (const c of plan.containers) {
      const hook = parseHooks(c.create.Labels[Labels.hooks])?.postStart
      if (hook === undefined) continue
      try {
        await this.runHook(c.create.name, c.create.Labels[Labels.podOwner] ?? c.create.name, hook, c.create.StopTimeout * 1000)
      } catch (err) {
        const why = `PostStartHook failed: ${(err as Error).message}`
        this.log.warn({ container: c.create.name, err: (err as Error).message }, 'postStart hook failed')
        this.event(copy, 'Warning', 'FailedPostStartHook', why)
        await this.restart(copy, [{ id: c.create.name, name: c.create.name, daemonSet: copy, reason: why, graceSeconds: c.create.StopTimeout }], why)
        return
      }
    }
  }

  /**
   * update moves this host's copy to the current revision. Under a slot, the fence check
   * comes last, right before the old copy goes down: a grant that aged meanwhile (a paused
   * or slow process) is fenced and claimed again. The images were pulled before claiming;
   * if one is gone since (pruned), it is pulled again first rather than while the copy is down.
   * The new copy starts only once the old one has stopped (a stopped container is no running
   * copy); its removal (Docker's rm, the old pod's volumes: the new revision's pod has its
   * own) follows the start.
   */
  private async update(copy: string, a: Extract<Action, { do: 'update' }>, doing: Doing): Promise<StepOutcome> {
    if (a.kind !== undefined) {
      this.log.info({ daemonset: a.ref.label, revision: a.plan.revision, kind: a.kind, term: a.term }, 'updating under an update slot')
      doing(`Updating to revision ${a.plan.revision} under an update slot`)
      if (!(await this.opts.runtime.hasImages(a.plan))) {
        this.log.warn({ daemonset: a.ref.label, revision: a.plan.revision }, 'an image of the update is gone: pulling it again before acting')
        this.pulled.delete(`${a.ref.label}@${a.plan.revision}`)
        this.opts.retry(0)
        return done(false)
      }
      if (!this.opts.slots.enter(a.ref.key)) {
        this.opts.retry(this.opts.timings.rolloutPollMs)
        return done(false)
      }
    } else {
      this.log.info({ daemonset: a.ref.label, revision: a.plan.revision }, 'replacing a copy that is not ready')
    }
    // Under a slot the images were pulled before claiming and found present above: the new
    // copy starts without pulling again while the host has none (runtime.ts StartOptions).
    const pulled = a.kind !== undefined
    const reuses = [...a.plan.init, ...a.plan.containers].map((c) => c.create.name)
    // A pod not created ahead is created while the old copy stops (in its grace period, not
    // after it), unless it reuses one of their names; it starts once both are done.
    const fresh = a.stop.length > 0 && !this.prepared.has(`${a.ref.label}@${a.plan.revision}`) && !a.stop.some((r) => reuses.includes(r.name))
    const ahead = fresh ? this.prepare(a.ref, a.plan) : undefined
    const starting = async (): Promise<void> => {
      await ahead
      doing(`Starting revision ${a.plan.revision}`)
      await this.start(a.ref, a.plan, doing, { pulled })
    }
    if (a.stop.length === 0) await starting()
    else {
      doing(`Stopping the old copy (${graceText(a.stop)})`)
      const ok = await this.removeAll(copy, a.stop, { start: starting, reuses })
      await ahead
      if (!ok) return halted
    }
    return done(true)
  }

  /** start starts the plan's pod; false (and a failure backed off) when that failed. */
  private async start(ref: DsRef, plan: Parameters<ContainerRuntime['startPod']>[0], doing: Doing, opts: { pulled: boolean }): Promise<boolean> {
    try {
      const progress = (status: string): void => {
        // A fresh pass reports the init progress (get pods: Init:I/N).
        this.initializing.set(ref.label, status)
        doing(`Running init containers of revision ${plan.revision}: ${status}`)
        this.opts.retry(0)
      }
      await this.opts.runtime.startPod(plan, { ...opts, progress })
      this.initializing.delete(ref.label)
      this.failures.delete(ref.label)
      this.log.info({ daemonset: ref.label, revision: plan.revision }, 'pod started')
      this.event(ref.label, 'Normal', 'Started', `Started pod (revision ${plan.revision}): ${plan.containers.map((c) => c.name).join(', ')}`)
      await this.postStart(ref.label, plan)
      return true
    } catch (err) {
      this.initializing.delete(ref.label)
      this.fail(ref.label, err, (err as Error).name === 'ImagePullError' ? 'pull' : 'start', plan.missing.length > 0 ? plan.missing.join('; ') : undefined)
      return false
    }
  }

  /** pull ensures the plan's images; false (and a failure backed off) when that failed. */
  private async pull(ref: DsRef, plan: Parameters<ContainerRuntime['pullImages']>[0]): Promise<boolean> {
    try {
      await this.opts.runtime.pullImages(plan)
      for (const set of [this.pulled, this.prepared]) for (const k of set) if (k.startsWith(`${ref.label}@`)) set.delete(k)
      this.event(ref.label, 'Normal', 'Pulled', `Images of revision ${plan.revision} present: ${plan.containers.map((c) => c.create.Image).join(', ')}`)
      this.pulled.add(`${ref.label}@${plan.revision}`)
      return true
    } catch (err) {
      this.fail(ref.label, err, 'pull')
      return false
    }
  }

  /** prepare creates an update's pod, not started (runtime.ts preparePod; core/reconcile.ts setAside), once; else the update creates it. */
  private async prepare(ref: DsRef, plan: Parameters<ContainerRuntime['preparePod']>[0]): Promise<boolean> {
    this.prepared.add(`${ref.label}@${plan.revision}`)
    return this.opts.runtime.preparePod(plan).catch((err: unknown) => {
      this.log.info({ daemonset: ref.label, revision: plan.revision, err: (err as Error).message }, 'the new copy could not be created ahead: its update will create it')
      return false
    })
  }

  /**
   * removeAll stops and removes containers, logging each; false (and a failure backed off)
   * when one could not be. With `next` (an update's start and the container names it
   * creates), once every container has stopped `next` starts and they are removed after it
   * (beside it when it reuses one of their names); a stop that fails halts before `next`.
   */
  private async removeAll(copy: string, removals: readonly Removal[], next?: { start: () => Promise<void>; reuses: readonly string[] }): Promise<boolean> {
    const attempt = async (step: () => Promise<void>, name: string): Promise<unknown> => {
      try {
        await step()
        return undefined
      } catch (err) {
        this.log.warn({ err: (err as Error).message, container: name }, 'remove failed')
        return err
      }
    }
    // Without `next`: stop and remove. With it: stop only (a container already gone or stopped is fine: remove says so).
    let results = await Promise.all(
      removals.map(async (r) => {
        this.log.info({ container: r.name, reason: r.reason, graceSeconds: r.graceSeconds }, 'removing container')
        if (r.reason.startsWith('evicted: ')) this.event(copy, 'Warning', 'Evicted', `Evicting ${r.name}: ${r.reason.slice('evicted: '.length)}`)
        else this.event(copy, 'Normal', 'Killing', `Stopping container ${r.name}: ${r.reason}`)
        const grace = r.hooks === undefined ? (r.graceSeconds ?? 30) : await this.preStop(copy, r)
        const rt = this.opts.runtime
        return attempt(() => (next === undefined ? rt.remove(r.id, grace) : rt.stopContainer(r.id, grace).catch(() => rt.remove(r.id, grace))), r.name)
      }),
    )
    if (next !== undefined && results.every((e) => e === undefined)) {
      const removeAll = (): Promise<unknown[]> => Promise.all(removals.map((r) => attempt(() => this.opts.runtime.remove(r.id, 0), r.name)))
      // The stopped containers go once the new copy has started: the engine does one thing at
      // a time less while the host has no running copy. Not when the new copy reuses a name
      // (its start would find the old container and start that).
      if (next.reuses.some((name) => removals.some((r) => r.name === name))) [results] = await Promise.all([removeAll(), next.start()])
      else {
        await next.start()
        results = await removeAll()
      }
    }
    const err = results.find((e) => e !== undefined)
    if (err !== undefined) {
      this.fail(copy, err, 'stop')
      return false
    }
    if (this.failures.get(copy)?.during === 'stop') this.failures.delete(copy)
    return true
  }

  private fail(copy: string, err: unknown, during: 'pull' | 'start' | 'stop', lacked?: string): void {
    const failure = this.failures.get(copy)
    const t = this.opts.timings
    const delay = failure === undefined ? t.backoffStartMs : Math.min(failure.delay * 2, t.backoffMaxMs)
    const reason = failureReason(during, (err as Error).name, failure !== undefined)
    this.failures.set(copy, { error: `${reason}: ${(err as Error).message}`, until: this.opts.clock.mono() + delay, delay, during, at: this.opts.clock.wall(), ...(lacked === undefined ? {} : { lacked }) })
    this.log.warn({ daemonset: copy, err: (err as Error).message, retryInMs: delay }, reason)
    this.event(copy, 'Warning', reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? 'Failed' : 'BackOff', `${reason}: ${(err as Error).message}`)
    this.opts.retry(delay + 50)
  }
}
