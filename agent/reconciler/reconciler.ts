// The reconciler: level-triggered (store change, own labels/taints change, lease grant,
// Docker event, periodic resync, a pod worker's change), one pass at a time. Each pass
// observes (the store's DaemonSets, this node's containers and their states, readiness, the
// lease's answers), asks core's planPass what to do, hands each copy's steps to that copy's
// pod worker (workers.ts: they act side by side, each copy's steps in order), and reports
// this node's copies and what the busy workers are doing in its node record. A pass does not
// wait for the workers. It never decides anything planPass does not say; it only keeps the
// state a decision needs (failures being backed off, pulled revisions, first-ready times,
// delete requests carried out).

import type { Logger } from 'pino'
import type { LwwMap } from '../../core/crdt.js'
import { podPlan } from '../../core/container-spec.js'
import { shouldRun, type TaintAge } from '../../core/eligibility.js'
import { Prefix, StoreKey, parseDsLabel, parseStoreKey, refOf } from '../../core/keyspace.js'
import { nodeInfoOf, type PodStatus, type WorkerStatus } from '../../core/node-record.js'
import { planPass, readyCopies, stepsByCopy, withoutPrepared, type DeleteRequest, type ObservedState, type PassInput, type ProbeState, type SlotAnswer, type Wanted } from '../../core/pass.js'
import { checkPolicy, OPEN_POLICY, type WorkloadPolicy } from '../../core/policy.js'
import { compileSelector } from '../../core/selector.js'
import type { DaemonSet, Taint } from '../../core/types.js'
import { storeObjects } from '../../core/volumes.js'
import type { SecretKey } from '../../core/secret-box.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { ContainerRuntime } from '../runtime/runtime.js'
import { EventHistory } from '../../core/events.js'
import { Actor, type PodEvent } from './actor.js'
import type { SelfNode, SlotGate } from './ports.js'
import { Prober } from './prober.js'
import { Workers } from './workers.js'
import { Serial } from '../serial.js'

/** Events wait at most this long (ms) before a pass publishes them, so a burst makes one record. */
const EVENT_PUBLISH_MS = 1000

export interface ReconcilerOptions {
  runtime: ContainerRuntime
  clock: Clock
  /** The replicated store: DaemonSets, their tombstones, pod delete requests. */
  store: Pick<LwwMap, 'live' | 'all' | 'get'>
  node: SelfNode
  slots: SlotGate
  /** This host's workload policy: a DaemonSet that breaks it is reported PolicyDenied and nothing of it runs here. Default: open (everything allowed). */
  policy?: WorkloadPolicy
  timings: Timings['reconciler']
  /** The fleet secret key; absent on a host that holds none. Opens only the Secrets of pods this host runs. */
  secretKey?: SecretKey
  log: Logger
}

export class Reconciler {
  private readonly opts: ReconcilerOptions
  private readonly log: Logger
  private readonly clock: Clock
  private readonly startedAt: number
  private readonly prober: Prober
  private readonly actor: Actor
  private readonly workers: Workers
  /** The last state inspected of each container (by name), of which container (id), when (monotonic) and whether it was running then. */
  private readonly lastStates = new Map<string, { state: ObservedState; id: string; at: number; running: boolean }>()
  /** When each copy (`NS/NAME@revision`) was first seen ready here: monotonic (minReadySeconds) and wall (status). */
  private readonly readySince = new Map<string, { mono: number; wall: number }>()
  /** The DaemonSet that adopted each orphaned container (by name), as the last pass found: it owns it. */
  private owners = new Map<string, string>()
  /** When each of this node's taints was first seen (monotonic ms, by `key=value:effect`): tolerationSeconds count from it. */
  private readonly taintSeen = new Map<string, number>()
  /** What happened to the copies here (core/events.ts): its newest part goes in the node record. */
  private readonly events = new EventHistory()
  /** The workload policy rules each DaemonSet (by key) broke here when last judged: a PolicyDenied event is recorded when they change. */
  private denied = new Map<string, string>()
  /** The copy (label form) of each container listed last, for probe events. */
  private copyOf = new Map<string, string>()
  private readonly passes = new Serial(() => this.pass(), (err) => this.log.error({ err }, 'reconcile pass failed'))
  private stopped = true
  private resync: Timer | undefined
  private poll: { timer: Timer; at: number } | undefined
  private dockerUp: boolean | undefined
  /** Wall ms of the last list Docker answered: failures after it may be Docker's, not the copy's. */
  private dockerAnsweredAt = 0
  private dockerRetryMs: number

  constructor(opts: ReconcilerOptions) {
    this.opts = opts
    this.log = opts.log
    this.clock = opts.clock
    this.startedAt = opts.clock.mono()
    this.dockerRetryMs = opts.timings.dockerRetryStartMs / 2
    this.prober = new Prober(opts.runtime, opts.clock, opts.log.child({ component: 'prober' }), () => this.trigger(), (f) => {
      const copy = this.copyOf.get(f.container)
      if (copy !== undefined) this.event({ copy, type: 'Warning', reason: 'Unhealthy', message: `${f.message} (container ${f.container})` })
    })
    this.actor = new Actor({ runtime: opts.runtime, clock: opts.clock, slots: opts.slots, timings: opts.timings, log: opts.log, retry: (ms) => this.soon(ms), event: (e) => this.event(e) })
    this.workers = new Workers({ perform: (copy, a, doing) => this.actor.perform(copy, a, doing), clock: opts.clock, log: opts.log, settled: () => this.trigger() })
  }

  start(): void {
    this.stopped = false
    this.opts.runtime.watch(this.opts.node.self().name, () => this.trigger())
    this.resync = this.clock.every(this.opts.timings.resyncMs, () => this.trigger())
    this.trigger()
  }

  stop(): void {
    this.stopped = true
    this.resync?.cancel()
    this.poll?.timer.cancel()
    this.prober.stop()
    this.workers.stop()
    this.opts.runtime.stop()
  }

  /** trigger asks for a pass; passes never overlap, and a trigger during one runs another after it. */
  trigger(): void {
    if (!this.stopped) this.passes.request()
  }

  /** soon asks for a pass within `ms` (the earliest request wins). */
  private soon(ms: number): void {
    const at = this.clock.mono() + ms
    if (this.poll !== undefined && this.poll.at <= at) return
    this.poll?.timer.cancel()
    this.poll = {
      at,
      timer: this.clock.after(ms, () => {
        this.poll = undefined
        this.trigger()
      }),
    }
  }

  private async pass(): Promise<void> {
    const seen = this.workers.observing()
    const input = await this.observe()
    if (input === undefined) return
    const plan = planPass(input)
    this.owners = plan.owners
    const steps = stepsByCopy(plan.actions)
    // Every copy gets this pass's decision, an empty one included: it supersedes a busy worker's remaining steps.
    for (const copy of new Set([...steps.keys(), ...this.workers.busyCopies()])) this.workers.dispatch(copy, seen, steps.get(copy) ?? [])
    this.workers.sweep(seen)
    if (plan.recheckMs !== undefined) this.soon(plan.recheckMs)
    this.report(plan.report)
  }

  /** observe reads everything a pass decides on; undefined when Docker does not answer. */
  private async observe(): Promise<PassInput | undefined> {
    const self = this.opts.node.self()
    const info = nodeInfoOf(self)
    const get = (key: string): ReturnType<ReconcilerOptions['store']['get']> => this.opts.store.get(key)
    // Secrets are opened only for the DaemonSets this host runs: the others' plans are never acted on here.
    const running = storeObjects(get, this.opts.secretKey)
    const others = storeObjects(get)
    const age = this.taintAges(info.taints)
    const wanted: Wanted[] = this.opts.store.live(Prefix.daemonSet).map((e) => {
      const ds = e.value as DaemonSet
      const v = shouldRun(info, ds, age)
      const plan = podPlan(ds, info, v.shouldRun || v.shouldContinueRunning ? running : others)
      const selector = compileSelector(ds.spec.selector, 'spec.selector').selector
      // Judged before anything is pulled or started: a refused DaemonSet neither runs nor stays here.
      const denied = v.shouldRun || v.shouldContinueRunning ? checkPolicy(this.opts.policy ?? OPEN_POLICY, ds, e.author) : []
      const allowed = denied.length === 0
      const evicted = v.reasons.find((r) => r.includes('tolerationSeconds'))
      return {
        ref: refOf(ds), ds, plan, revision: plan.revision, run: v.shouldRun && allowed, keep: v.shouldContinueRunning && allowed, selects: (labels) => selector.matches(labels),
        ...(allowed ? {} : { denied }),
        ...(v.evictInMs === undefined ? {} : { evictInMs: v.evictInMs }),
        ...(evicted === undefined ? {} : { evicted: `evicted: ${evicted}` }),
      }
    })
    this.noteDenials(wanted)
    // A copy that failed for want of a ConfigMap or Secret starts as soon as it arrives.
    this.actor.arrived(new Map(wanted.map((w) => [w.ref.label, w.plan.missing])))
    const deleted = new Set<string>()
    const orphaned = new Set<string>()
    for (const e of this.opts.store.all()) {
      const k = parseStoreKey(e.key)
      if (e.op !== 'delete' || k?.kind !== 'daemonSet') continue
      if ((e.value as { cascade?: string } | undefined)?.cascade === 'orphan') orphaned.add(k.ref.label)
      else deleted.add(k.ref.label)
    }
    const listed = await this.listContainers(self.name)
    if (listed === undefined) return undefined
    // A pod created ahead of its update is no copy while the old one runs (core/reconcile.ts setAside).
    const containers = withoutPrepared(wanted, listed, orphaned, this.owners)
    this.copyOf = new Map(containers.map((c) => [c.name, c.daemonSet]))
    this.prober.sync(containers)
    const probes = new Map<string, ProbeState>()
    for (const c of containers) {
      const r = this.prober.result(c.name)
      if (r !== undefined) probes.set(c.name, r)
    }
    const here = new Set([...wanted.map((w) => w.ref.label), ...containers.map((c) => c.daemonSet)])
    this.actor.forget((copy) => here.has(copy), new Set(containers.map((c) => c.name)))
    const states = await this.inspect(containers)
    this.noteReadiness(readyCopies(wanted, containers, orphaned, probes, this.owners))
    const slots = new Map<string, SlotAnswer>()
    const deleteRequests = new Map<string, DeleteRequest>()
    for (const w of wanted) {
      slots.set(w.ref.key, this.opts.slots.status(w.ref.key))
      const env = this.opts.store.get(StoreKey.podDelete(w.ref, self.name))
      const id = `${env?.key}@${env?.hlc}`
      if (env?.op === 'put' && !this.actor.handled(id)) deleteRequests.set(w.ref.key, { id, ...(env.value as { revision: string; since: number }) })
    }
    return {
      now: this.clock.mono(),
      startedAt: this.startedAt,
      wallNow: this.clock.wall(),
      sweepGraceMs: this.opts.timings.sweepGraceMs,
      pollMs: this.opts.timings.rolloutPollMs,
      wanted,
      owners: this.owners,
      deleted,
      orphaned,
      containers,
      states,
      probes,
      readySince: this.readySince,
      failures: this.actor.failures,
      crashes: this.actor.crashes,
      initializing: this.actor.initializing,
      restarts: this.actor.restarts,
      pulled: this.actor.pulled,
      prepared: this.actor.prepared,
      slots,
      deleteRequests,
      reported: self.pods,
    }
  }

  /**
   * inspect returns the state of every container, inspecting only those that are new, that
   * started or stopped since last inspected, or whose state is older than the resync period:
   * when nothing changed, a pass is one Docker list (and each container is inspected once per
   * resync period, which catches restarts between two passes). A copy whose worker is busy, or whose
   * stop failed, is not inspected (Docker may hold the container's lock for a stop that hangs,
   * and would hang the inspect too): its last state stands.
   */
  private async inspect(containers: PassInput['containers']): Promise<Map<string, ObservedState>> {
    const now = this.clock.mono()
    const owned = (label: string): boolean => this.workers.busy(label) || this.actor.failures.get(label)?.during === 'stop'
    const stale = (c: PassInput['containers'][number]): boolean => {
      const last = this.lastStates.get(c.name)
      return last === undefined || last.id !== c.id || last.running !== c.running || now - last.at >= this.opts.timings.resyncMs
    }
    const ask = containers.filter((c) => !owned(c.daemonSet) && stale(c))
    const listed = new Map(ask.map((c) => [c.name, c]))
    for (const s of await this.opts.runtime.states(ask.map((c) => c.name))) this.lastStates.set(s.name, { state: s, id: listed.get(s.name)?.id ?? '', at: now, running: listed.get(s.name)?.running ?? s.running })
    const byName = new Map(containers.map((c) => [c.name, c.id]))
    for (const [name, l] of this.lastStates) if (byName.get(name) !== l.id) this.lastStates.delete(name)
    return new Map([...this.lastStates].map(([name, l]) => [name, l.state]))
  }

  /** taintAges notes when each of this node's taints was first seen and says how long ago, on the injected clock. */
  private taintAges(taints: readonly Taint[]): TaintAge {
    const now = this.clock.mono()
    const text = (t: Taint): string => `${t.key}=${t.value ?? ''}:${t.effect}`
    const present = new Set(taints.map(text))
    for (const k of this.taintSeen.keys()) if (!present.has(k)) this.taintSeen.delete(k)
    for (const k of present) if (!this.taintSeen.has(k)) this.taintSeen.set(k, now)
    return (t) => {
      const since = this.taintSeen.get(text(t))
      return since === undefined ? undefined : now - since
    }
  }

  /** noteReadiness keeps the first-ready time of every copy that is ready now, and forgets the others. */
  private noteReadiness(ready: ReadonlySet<string>): void {
    for (const k of this.readySince.keys()) if (!ready.has(k)) this.readySince.delete(k)
    for (const k of ready) if (!this.readySince.has(k)) this.readySince.set(k, { mono: this.clock.mono(), wall: this.clock.wall() })
  }

  /** listContainers lists this node's containers, noting Docker's availability in the node's conditions. */
  private async listContainers(node: string): Promise<PassInput['containers'] | undefined> {
    try {
      const containers = await this.opts.runtime.list(node)
      // Back from an outage (a dockerd restart, an upgrade): starts and pulls that failed since
      // Docker last answered failed for want of Docker, and are retried now, not after their
      // back-off (10 s doubling, which could keep a copy down for minutes after a restart).
      if (this.dockerUp === false) this.actor.forgive(this.dockerAnsweredAt)
      this.dockerAnsweredAt = this.clock.wall()
      this.setDocker(true)
      this.dockerRetryMs = this.opts.timings.dockerRetryStartMs / 2
      return containers
    } catch (err) {
      this.setDocker(false, (err as Error).message)
      // Retry sooner than the resync, backing off while Docker stays away.
      this.dockerRetryMs = Math.min(this.dockerRetryMs * 2, this.opts.timings.dockerRetryMaxMs)
      this.soon(this.dockerRetryMs)
      return undefined
    }
  }

  private setDocker(up: boolean, message?: string): void {
    if (this.dockerUp === up) return
    this.dockerUp = up
    if (up) this.log.info('docker is available')
    else this.log.warn({ err: message }, 'docker is unavailable; retrying')
    const others = this.opts.node.self().conditions.filter((c) => c.type !== 'DockerReady')
    this.opts.node.setConditions([...others, up ? { type: 'DockerReady', status: 'True' } : { type: 'DockerReady', status: 'False', reason: 'DockerUnavailable', message: (message ?? '').slice(0, 1000) }])
  }

  /** report puts the pods and what the busy workers (and those backing off) are doing in the node record; it is published when that changed. */
  private report(pods: Record<string, PodStatus>): void {
    const workers: Record<string, WorkerStatus> = {}
    const now = this.clock.mono()
    const wall = this.clock.wall()
    for (const [copy, f] of this.actor.failures) {
      const key = parseDsLabel(copy)?.key
      if (key === undefined || f.until <= now) continue
      workers[key] = { doing: `Back-off ${Math.round(f.delay / 1000)} s: ${f.error}`.slice(0, 200), since: f.at ?? wall }
    }
    for (const [copy, a] of this.workers.activities()) {
      const key = parseDsLabel(copy)?.key
      if (key !== undefined) workers[key] = { doing: a.doing.slice(0, 200), since: a.since }
    }
    const { events, refreshInMs } = this.events.published(wall)
    if (refreshInMs !== undefined) this.soon(refreshInMs)
    this.opts.node.setPods(pods, workers, events)
  }

  /** noteDenials records a PolicyDenied event for each DaemonSet the policy refuses here, once per set of rules broken. */
  private noteDenials(wanted: readonly Wanted[]): void {
    const now = new Map<string, string>()
    for (const w of wanted) {
      if (w.denied === undefined || w.denied.length === 0) continue
      const rules = w.denied.join('; ')
      now.set(w.ref.key, rules)
      if (this.denied.get(w.ref.key) === rules) continue
      this.events.add({ ds: w.ref.key, type: 'Warning', reason: 'PolicyDenied', message: `refused by this host's workload policy: ${rules}`.slice(0, 300) }, this.clock.wall())
      if (!this.stopped) this.soon(EVENT_PUBLISH_MS)
    }
    this.denied = now
  }

  /** event records what happened to a copy; a pass within a second publishes it (events of that second together). */
  private event(e: PodEvent): void {
    const key = parseDsLabel(e.copy)?.key
    if (key === undefined) return
    this.events.add({ ds: key, type: e.type, reason: e.reason, message: e.message }, this.clock.wall())
    if (!this.stopped) this.soon(EVENT_PUBLISH_MS)
  }
}

