// The reconciler: level-triggered (store change, own labels/taints change, Docker event,
// periodic resync), one pass at a time. Each pass computes desired pods with core
// (shouldRun, podPlan), reads this node's managed containers, plans with core.planNode,
// then acts through the runtime and reports pod status in the node record.

import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { podPlan, type PodPlan } from '../../core/container-spec.js'
import { shouldRun } from '../../core/eligibility.js'
import { nodeInfoOf, type PodStatus } from '../../core/node-record.js'
import { adoptOrphans, planNode, type DesiredPod, type ObservedContainer } from '../../core/reconcile.js'
import { compileSelector } from '../../core/selector.js'
import { revisionOf } from '../../core/revision.js'
import { rolloutLimits } from '../../core/rollout.js'
import { dsKey } from '../../core/status.js'
import type { DaemonSet } from '../../core/types.js'
import type { Lease } from '../lease/lease.js'
import type { Membership } from '../membership/membership.js'
import { ImagePullError, type DockerRuntime } from '../runtime/docker.js'
import { Prober } from './prober.js'
import type { Store } from '../store/store.js'

export interface ReconcilerOptions {
  runtime: DockerRuntime
  store: Store
  membership: Membership
  /** The rolling-update lease: a slot before an old copy goes down (or a second one surges). */
  lease: Lease
  /** Periodic resync. Default 10 s. */
  resyncMs: number
  /** Unknown labelled containers are left alone this long after start. Default 30 s. */
  sweepGraceMs: number
  /** Test hook: wait this long between being granted a slot and acting (a slow or paused holder). */
  testActDelayMs?: number
  log: Logger
}

/** Pull back-off: 10 s doubling to 5 min, as the kubelet's ImagePullBackOff. */
const BACKOFF_START_MS = 10_000
const BACKOFF_MAX_MS = 300_000

/** Docker unavailable: retry after 1 s, doubling to 30 s. */
const DOCKER_RETRY_START_MS = 1000
const DOCKER_RETRY_MAX_MS = 30_000

/** While an update waits for a slot or for minReadySeconds, passes run this often. */
const ROLLOUT_POLL_MS = 1000

interface Failure {
  error: string
  until: number
  delay: number
}

export class Reconciler {
  private readonly opts: ReconcilerOptions
  private readonly log: Logger
  private readonly startedAt = Date.now()
  private readonly failures = new Map<string, Failure>()
  private running = false
  private again = false
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private dockerUp: boolean | undefined
  private dockerRetryMs = DOCKER_RETRY_START_MS / 2
  /** Pod delete requests already carried out (key@hlc), so each runs once. */
  private readonly handledDeletes = new Set<string>()
  private readonly prober: Prober
  /** When a copy was first seen ready here, per `ds@revision`: monotonic (minReadySeconds) and wall (status). */
  private readonly readyAt = new Map<string, { mono: number; wall: number }>()
  /** Why a DaemonSet's update on this node waits. */
  private readonly waiting = new Map<string, string>()
  private poll: NodeJS.Timeout | undefined
  /** Revisions whose images were pulled for an update (`ds@revision`): pulled once, not every pass. */
  private readonly pulled = new Set<string>()

  constructor(opts: ReconcilerOptions) {
    this.opts = opts
    this.log = opts.log
    this.prober = new Prober(opts.runtime, opts.log.child({ component: 'prober' }), () => this.trigger())
  }

  /** soon asks for another pass after `ms` (one pending at a time, the earliest wins). */
  private soon(ms: number): void {
    if (this.poll !== undefined) return
    this.poll = setTimeout(() => {
      this.poll = undefined
      this.trigger()
    }, ms)
    this.poll.unref()
  }

  start(): void {
    this.opts.store.addEventListener('change', () => this.trigger())
    this.opts.membership.addEventListener('node:self', () => this.trigger())
    this.opts.runtime.watch(() => this.trigger())
    this.opts.lease.addEventListener('change', () => this.trigger())
    this.timer = setInterval(() => this.trigger(), this.opts.resyncMs)
    this.trigger()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.poll)
    this.prober.stop()
    this.opts.runtime.stop()
  }

  /** trigger asks for a pass; passes never overlap, and a trigger during one runs another after it. */
  trigger(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    void this.pass()
      .catch((err: unknown) => this.log.error({ err }, 'reconcile pass failed'))
      .finally(() => {
        this.running = false
        if (this.again) {
          this.again = false
          this.trigger()
        }
      })
  }

  private setDocker(up: boolean, message?: string): void {
    if (this.dockerUp === up) return
    this.dockerUp = up
    if (up) this.log.info('docker is available')
    else this.log.warn({ err: message }, 'docker is unavailable; retrying')
    const others = this.opts.membership.self().conditions.filter((c) => c.type !== 'DockerReady')
    this.opts.membership.setConditions([...others, up ? { type: 'DockerReady', status: 'True' } : { type: 'DockerReady', status: 'False', reason: 'DockerUnavailable', message: (message ?? '').slice(0, 1000) }])
  }

  private async pass(): Promise<void> {
    const self = this.opts.membership.self()
    const node = nodeInfoOf(self)
    const live = this.opts.store.map.live('ds/').map((e) => e.value as DaemonSet)
    const tombstones = this.opts.store.map.all().filter((e) => e.op === 'delete' && e.key.startsWith('ds/'))
    const label = (key: string): string => key.slice(3).replace('/', '.')
    const isOrphan = (v: unknown): boolean => (v as { cascade?: string } | undefined)?.cascade === 'orphan'
    const deleted = new Set(tombstones.filter((e) => !isOrphan(e.value)).map((e) => label(e.key)))
    const orphaned = new Set(tombstones.filter((e) => isOrphan(e.value)).map((e) => label(e.key)))
    const plans = new Map<string, { ds: DaemonSet; plan: PodPlan }>()
    const desired: DesiredPod[] = live.map((ds) => {
      const v = shouldRun(node, ds)
      const plan = podPlan(ds, node)
      plans.set(plan.daemonSet, { ds, plan })
      const selector = compileSelector(ds.spec.selector, 'spec.selector').selector
      return {
        daemonSet: plan.daemonSet,
        revision: revisionOf(ds),
        run: v.shouldRun,
        keep: v.shouldContinueRunning,
        containers: plan.containers.map((c) => c.name),
        selects: (labels: Record<string, string>) => selector.matches(labels),
      }
    })
    let observed: ObservedContainer[]
    try {
      observed = await this.opts.runtime.list(self.name)
      this.setDocker(true)
    } catch (err) {
      this.setDocker(false, (err as Error).message)
      // Retry sooner than the resync, backing off while Docker stays away.
      this.dockerRetryMs = Math.min(this.dockerRetryMs * 2, DOCKER_RETRY_MAX_MS)
      setTimeout(() => this.trigger(), this.dockerRetryMs).unref()
      return
    }
    this.dockerRetryMs = DOCKER_RETRY_START_MS / 2
    observed = await this.deleteRequestedPods(desired, plans, observed)
    this.prober.sync(observed)
    const now = Date.now()
    const adopted = adoptOrphans(desired, observed, orphaned)
    const surging = this.surging(desired, plans, adopted)
    const plan = planNode(desired, observed, { now, startedAt: this.startedAt, sweepGraceMs: this.opts.sweepGraceMs, deleted, orphaned, surging })
    for (const r of plan.remove) {
      this.log.info({ container: r.name, reason: r.reason }, 'removing container')
      await this.opts.runtime.remove(r.id).catch((err: unknown) => this.log.warn({ err, container: r.name }, 'remove failed'))
    }
    for (const ds of plan.start) {
      const p = plans.get(ds)
      if (p === undefined) continue
      const failure = this.failures.get(ds)
      if (failure !== undefined && failure.until > now) continue
      try {
        await this.opts.runtime.ensurePod(p.plan)
        if (failure !== undefined) this.failures.delete(ds)
        this.log.info({ daemonset: ds, revision: p.plan.revision }, 'pod started')
      } catch (err) {
        this.fail(ds, err, failure, now)
      }
    }
    const updated = await this.rollOut(plan.outdated, plans, adopted)
    // Re-read Docker only when this pass changed something.
    const acted = plan.remove.length > 0 || plan.start.length > 0 || updated
    const after = acted ? adoptOrphans(desired, await this.opts.runtime.list(self.name), orphaned) : adopted
    if (acted) this.prober.sync(after)
    this.releaseSlots(desired, plans, after)
    await this.report(desired, plans, after)
  }

  /** podReady: every container of the copy runs and passes its readiness check. */
  private podReady(containers: readonly ObservedContainer[]): boolean {
    return containers.length > 0 && containers.every((c) => c.running && this.prober.ready(c.name))
  }

  /**
   * available says whether this node's copy of `ds` at `revision` has been ready for
   * minReadySeconds, on this host's monotonic clock; it asks for a pass when it will be.
   */
  private available(ds: DaemonSet, revision: string, containers: readonly ObservedContainer[]): boolean {
    const k = `${dsKey(ds)}@${revision}`
    if (!this.podReady(containers)) {
      this.readyAt.delete(k)
      return false
    }
    const seen = this.readyAt.get(k) ?? { mono: performance.now(), wall: Date.now() }
    this.readyAt.set(k, seen)
    const left = (ds.spec.minReadySeconds ?? 0) * 1000 - (performance.now() - seen.mono)
    if (left > 0) this.soon(Math.min(left + 20, ROLLOUT_POLL_MS))
    return left <= 0
  }

  /** surging lists the DaemonSets (maxSurge > 0) whose new copy here is not yet available: their old copy stays. */
  private surging(desired: DesiredPod[], plans: Map<string, { ds: DaemonSet; plan: PodPlan }>, observed: ObservedContainer[]): Set<string> {
    const out = new Set<string>()
    for (const d of desired) {
      const entry = plans.get(d.daemonSet)
      if (entry === undefined || entry.ds.spec.updateStrategy?.type !== 'RollingUpdate') continue
      const mine = observed.filter((c) => c.daemonSet === d.daemonSet)
      const fresh = mine.filter((c) => c.revision === d.revision)
      if (fresh.length === 0 || fresh.length === mine.length) continue
      if (rolloutLimits(entry.ds, 1).maxSurge > 0 && !this.available(entry.ds, d.revision, fresh)) out.add(d.daemonSet)
    }
    return out
  }

  /**
   * rollOut moves this node's outdated copies of RollingUpdate DaemonSets to the current
   * revision: images are pulled first (a pull failure takes nothing down); an old copy that
   * is not ready is replaced at once (that takes nothing down either); otherwise the lease
   * must grant a slot: with maxSurge the new copy starts beside the old one, else the old
   * one is removed and the new one started. Returns whether it changed anything.
   */
  private async rollOut(outdated: string[], plans: Map<string, { ds: DaemonSet; plan: PodPlan }>, observed: ObservedContainer[]): Promise<boolean> {
    let changed = false
    const now = Date.now()
    for (const name of outdated) {
      const entry = plans.get(name)
      if (entry === undefined || entry.ds.spec.updateStrategy?.type !== 'RollingUpdate') continue
      const { ds, plan } = entry
      const key = dsKey(ds)
      const old = observed.filter((c) => c.daemonSet === name && c.revision !== plan.revision)
      const failure = this.failures.get(name)
      if (failure !== undefined && failure.until > now) continue
      if (!this.pulled.has(`${name}@${plan.revision}`)) {
        try {
          await this.opts.runtime.pullImages(plan)
          for (const k of this.pulled) if (k.startsWith(`${name}@`)) this.pulled.delete(k)
          this.pulled.add(`${name}@${plan.revision}`)
        } catch (err) {
          this.fail(name, err, failure, now)
          continue
        }
      }
      let kind: 'unavailable' | 'surge' | undefined
      if (this.podReady(old)) {
        kind = rolloutLimits(ds, 1).maxSurge > 0 ? 'surge' : 'unavailable'
        const answer = this.opts.lease.request(key, plan.revision, kind)
        if (!answer.go) {
          this.waiting.set(key, answer.why)
          this.soon(ROLLOUT_POLL_MS)
          continue
        }
        this.log.info({ daemonset: name, revision: plan.revision, kind, term: answer.term }, 'updating under an update slot')
      } else {
        this.log.info({ daemonset: name, revision: plan.revision }, 'replacing a copy that is not ready')
      }
      if (kind !== undefined && (this.opts.testActDelayMs ?? 0) > 0) await new Promise((r) => setTimeout(r, this.opts.testActDelayMs))
      // Last check before acting: a grant that aged meanwhile (a paused process) is fenced.
      if (kind !== undefined && !this.opts.lease.acted(key)) {
        this.soon(ROLLOUT_POLL_MS)
        continue
      }
      this.waiting.delete(key)
      changed = true
      if (kind !== 'surge') for (const c of old) await this.opts.runtime.remove(c.id).catch((err: unknown) => this.log.warn({ err, container: c.name }, 'remove failed'))
      try {
        await this.opts.runtime.ensurePod(plan)
        if (failure !== undefined) this.failures.delete(name)
        this.log.info({ daemonset: name, revision: plan.revision }, 'pod started')
      } catch (err) {
        this.fail(name, err, failure, now)
      }
    }
    return changed
  }

  /** releaseSlots gives back the slots of DaemonSets whose copy here is available at the current revision (and alone). */
  private releaseSlots(desired: DesiredPod[], plans: Map<string, { ds: DaemonSet; plan: PodPlan }>, observed: ObservedContainer[]): void {
    for (const d of desired) {
      const entry = plans.get(d.daemonSet)
      if (entry === undefined || !this.opts.lease.holding(dsKey(entry.ds))) continue
      const mine = observed.filter((c) => c.daemonSet === d.daemonSet)
      const fresh = mine.filter((c) => c.revision === d.revision)
      if (!d.run || (fresh.length === mine.length && this.available(entry.ds, d.revision, fresh))) this.opts.lease.release(dsKey(entry.ds))
      else this.soon(ROLLOUT_POLL_MS)
    }
  }

  private fail(ds: string, err: unknown, failure: Failure | undefined, now: number): void {
    const delay = failure === undefined ? BACKOFF_START_MS : Math.min(failure.delay * 2, BACKOFF_MAX_MS)
    const reason = err instanceof ImagePullError ? (failure === undefined ? 'ErrImagePull' : 'ImagePullBackOff') : 'CreateContainerError'
    this.failures.set(ds, { error: `${reason}: ${(err as Error).message}`, until: now + delay, delay })
    this.log.warn({ daemonset: ds, err: (err as Error).message, retryInMs: delay }, reason)
    setTimeout(() => this.trigger(), delay + 50).unref()
  }

  /**
   * deleteRequestedPods removes this node's copy of a DaemonSet when an operator asked for it
   * (`delete pod`) and the copy is still the one they saw (same revision, started no later);
   * planNode then starts a copy of the current template. Returns what is left.
   */
  private async deleteRequestedPods(desired: DesiredPod[], plans: Map<string, { ds: DaemonSet; plan: PodPlan }>, observed: ObservedContainer[]): Promise<ObservedContainer[]> {
    const self = this.opts.membership.self()
    let left = observed
    for (const d of desired) {
      const entry = plans.get(d.daemonSet)
      if (entry === undefined) continue
      const key = `pods/${dsKey(entry.ds)}/${self.name}`
      const env = this.opts.store.map.get(key)
      if (env?.op !== 'put' || this.handledDeletes.has(`${key}@${env.hlc}`)) continue
      const req = env.value as { revision: string; since: number }
      const reported = self.pods[dsKey(entry.ds)]
      if (reported === undefined || reported.revision !== req.revision || reported.since > req.since) continue
      this.handledDeletes.add(`${key}@${env.hlc}`)
      const mine = left.filter((c) => c.daemonSet === d.daemonSet)
      this.log.info({ daemonset: d.daemonSet, revision: req.revision }, 'deleting the copy as requested')
      for (const c of mine) await this.opts.runtime.remove(c.id).catch((err: unknown) => this.log.warn({ err, container: c.name }, 'remove failed'))
      left = left.filter((c) => c.daemonSet !== d.daemonSet)
    }
    return left
  }

  /** report puts each DaemonSet's copy (observed after adoption) in the node record, when it changed. */
  private async report(desired: DesiredPod[], plans: Map<string, { ds: DaemonSet; plan: PodPlan }>, observed: ObservedContainer[]): Promise<void> {
    const pods: Record<string, PodStatus> = {}
    const previous = this.opts.membership.self().pods
    for (const d of desired) {
      const entry = plans.get(d.daemonSet)
      if (entry === undefined) continue
      const mine = observed.filter((c) => c.daemonSet === d.daemonSet)
      const failure = this.failures.get(d.daemonSet)
      if (mine.length === 0 && failure === undefined) continue
      // While surging, the new copy is the one reported.
      const revision = mine.find((c) => c.revision === d.revision)?.revision ?? mine[0]?.revision ?? d.revision
      const names = mine.filter((c) => c.revision === revision).map((c) => c.name)
      const states = await this.opts.runtime.states(names)
      const ready = states.length > 0 && states.length === names.length && states.every((s) => s.running && this.prober.ready(s.name))
      const probed = mine.some((c) => c.revision === revision && c.readiness !== undefined)
      // available() also notes when the copy was first seen ready here (readySince of probed copies).
      const available = ready && this.available(entry.ds, revision, mine.filter((c) => c.revision === revision))
      const seen = this.readyAt.get(`${dsKey(entry.ds)}@${revision}`)?.wall
      const since = Math.max(0, ...states.map((s) => s.startedAt))
      const error = failure?.error ?? states.find((s) => s.error !== '')?.error ?? names.map((n) => this.prober.why(n)).find((w) => w !== undefined)
      const waiting = revision === d.revision ? undefined : this.waiting.get(dsKey(entry.ds))
      pods[dsKey(entry.ds)] = {
        revision,
        available,
        phase: ready ? 'Running' : states.some((s) => s.status === 'exited' || s.status === 'dead') ? 'Failed' : 'Pending',
        ready,
        restarts: states.reduce((a, s) => a + s.restarts, 0),
        // A copy that never started keeps the time it was first reported, so the record does not churn.
        since: since > 0 ? since : (previous[dsKey(entry.ds)]?.since ?? Date.now()),
        ...(ready && probed && seen !== undefined ? { readySince: seen } : ready && since > 0 ? { readySince: since } : {}),
        ...(error === undefined || error === '' ? {} : { lastError: error.slice(0, 1000) }),
        ...(waiting === undefined ? {} : { waiting: waiting.slice(0, 300) }),
      }
    }
    // Forget readiness times of copies no longer here (older revisions, deleted DaemonSets).
    const reported = new Set(Object.entries(pods).map(([k, p]) => `${k}@${p.revision}`))
    for (const k of this.readyAt.keys()) if (!reported.has(k)) this.readyAt.delete(k)
    if (JSON.stringify(previous) !== JSON.stringify(pods)) this.opts.membership.setPods(pods)
  }
}
