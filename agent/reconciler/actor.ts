// The reconciler's hands: carries out the actions core's planPass decided, in order,
// through the container runtime and the rollout lease, and keeps what later decisions
// need to know of them: failures being backed off (kubelet's 10 s doubling to 5 min),
// revisions whose images were pulled, delete requests carried out. It decides nothing.

import type { Logger } from 'pino'
import type { DsRef } from '../../core/keyspace.js'
import type { Action, Failure } from '../../core/pass.js'
import type { Removal } from '../../core/reconcile.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { ContainerRuntime } from '../runtime/runtime.js'
import type { SlotGate } from './ports.js'

export interface ActorOptions {
  runtime: ContainerRuntime
  clock: Clock
  slots: SlotGate
  timings: Timings['reconciler']
  log: Logger
  /** retry asks for another pass within ms (a back-off ends, a fenced grant). */
  retry: (ms: number) => void
}

/** Outcome says whether acting changed what Docker runs (or recorded a failure): the next pass must look. */
export interface Outcome {
  changed: boolean
}

export class Actor {
  private readonly opts: ActorOptions
  private readonly log: Logger
  /** Failures being backed off, per DaemonSet label form. */
  readonly failures = new Map<string, Failure>()
  /** Revisions whose images were pulled for an update (`NS.NAME@revision`): once, not every pass. */
  readonly pulled = new Set<string>()
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

  /** act carries out the actions in order; a DaemonSet whose pull failed takes no further step in this pass. */
  async act(actions: readonly Action[]): Promise<Outcome> {
    const out: Outcome = { changed: false }
    const failed = new Set<string>()
    for (const a of actions) {
      if ('ref' in a && failed.has(a.ref.label)) continue
      switch (a.do) {
        case 'remove':
          if (await this.removeAll(a.removals)) out.changed = true
          break
        case 'delete-pod':
          this.done.add(a.request)
          this.log.info({ daemonset: a.ref.label }, 'deleting the copy as requested')
          if (await this.removeAll(a.removals)) out.changed = true
          break
        case 'start':
          await this.start(a.ref, a.plan)
          out.changed = true
          break
        case 'pull':
          if (!(await this.pull(a.ref, a.plan))) {
            failed.add(a.ref.label)
            out.changed = true
          }
          break
        case 'claim':
          this.opts.slots.claim(a.ref.key, a.revision, a.kind)
          break
        case 'update':
          if (await this.update(a)) out.changed = true
          break
        case 'release':
          this.opts.slots.release(a.ref.key)
          break
      }
    }
    return out
  }

  /**
   * update moves this host's copy to the current revision. Under a slot, the fence check
   * comes last, right before the old copy goes down: a grant that aged meanwhile (a paused
   * or slow process) is fenced and claimed again. The images were pulled before claiming;
   * if one is gone since (pruned), it is pulled again first rather than while the copy is down.
   */
  private async update(a: Extract<Action, { do: 'update' }>): Promise<boolean> {
    if (a.kind !== undefined) {
      this.log.info({ daemonset: a.ref.label, revision: a.plan.revision, kind: a.kind, term: a.term }, 'updating under an update slot')
      if (!(await this.opts.runtime.hasImages(a.plan))) {
        this.log.warn({ daemonset: a.ref.label, revision: a.plan.revision }, 'an image of the update is gone: pulling it again before acting')
        this.pulled.delete(`${a.ref.label}@${a.plan.revision}`)
        this.opts.retry(0)
        return false
      }
      if (!this.opts.slots.enter(a.ref.key)) {
        this.opts.retry(this.opts.timings.rolloutPollMs)
        return false
      }
    } else {
      this.log.info({ daemonset: a.ref.label, revision: a.plan.revision }, 'replacing a copy that is not ready')
    }
    await this.removeAll(a.stop)
    await this.start(a.ref, a.plan)
    return true
  }

  private async start(ref: DsRef, plan: Parameters<ContainerRuntime['startPod']>[0]): Promise<void> {
    try {
      await this.opts.runtime.startPod(plan)
      this.failures.delete(ref.label)
      this.log.info({ daemonset: ref.label, revision: plan.revision }, 'pod started')
    } catch (err) {
      this.fail(ref, err)
    }
  }

  /** pull ensures the plan's images; false (and a failure backed off) when that failed. */
  private async pull(ref: DsRef, plan: Parameters<ContainerRuntime['pullImages']>[0]): Promise<boolean> {
    try {
      await this.opts.runtime.pullImages(plan)
      for (const k of this.pulled) if (k.startsWith(`${ref.label}@`)) this.pulled.delete(k)
      this.pulled.add(`${ref.label}@${plan.revision}`)
      return true
    } catch (err) {
      this.fail(ref, err)
      return false
    }
  }

  /** removeAll removes containers, logging each; true when any went. */
  private async removeAll(removals: readonly Removal[]): Promise<boolean> {
    let any = false
    for (const r of removals) {
      this.log.info({ container: r.name, reason: r.reason }, 'removing container')
      try {
        await this.opts.runtime.remove(r.id)
        any = true
      } catch (err) {
        this.log.warn({ err, container: r.name }, 'remove failed')
      }
    }
    return any
  }

  private fail(ref: DsRef, err: unknown): void {
    const failure = this.failures.get(ref.label)
    const t = this.opts.timings
    const delay = failure === undefined ? t.backoffStartMs : Math.min(failure.delay * 2, t.backoffMaxMs)
    const reason = (err as Error).name === 'ImagePullError' ? (failure === undefined ? 'ErrImagePull' : 'ImagePullBackOff') : 'CreateContainerError'
    this.failures.set(ref.label, { error: `${reason}: ${(err as Error).message}`, until: this.opts.clock.mono() + delay, delay })
    this.log.warn({ daemonset: ref.label, err: (err as Error).message, retryInMs: delay }, reason)
    this.opts.retry(delay + 50)
  }
}
