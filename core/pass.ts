// One reconcile pass of one host, decided: from what the reconciler observed (the live
// DaemonSets and their pod plans, Docker's containers and their states, readiness, the
// rollout lease's answers, failures being backed off), planPass says what to pull, claim,
// stop, start and release, in order, what to report in the node record, and when to look
// again. The reconciler hands each copy's steps (stepsByCopy) to that copy's worker; nothing
// here performs or logs anything. Times are the host's monotonic milliseconds except
// `wallNow` (only for the record).

import type { PodPlan } from './container-spec.js'
import type { DsRef } from './keyspace.js'
import type { SlotKind } from './lease.js'
import type { PodStatus } from './node-record.js'
import { DEFAULT_TERMINATION_GRACE_SECONDS } from './defaults.js'
import { adoptOrphans, ownersOf, planNode, type DesiredPod, type ObservedContainer, type Removal } from './reconcile.js'
import { availableIn, copyReady, rolloutLimits } from './rollout.js'
import type { DaemonSet } from './types.js'


/** SlotAnswer is the rollout lease's answer for one DaemonSet, as observed at the start of the pass. */
export type SlotAnswer =
  | { phase: 'idle' }
  | { phase: 'waiting'; why: string }
  | { phase: 'granted'; term: number }
  | { phase: 'acting'; term: number }

/** Wanted is one live DaemonSet and what this host should do with it. */
export interface Wanted {
  ref: DsRef
  ds: DaemonSet
  /** The pod this host would run at the current revision. */
  plan: PodPlan
  revision: string
  /** shouldRun: place a copy here. */
  run: boolean
  /** shouldContinueRunning: a copy already here may stay. */
  keep: boolean
  /** The DaemonSet's selector, to adopt orphaned copies. */
  selects: (labels: Record<string, string>) => boolean
  /** The workload policy rules it breaks here (core/policy.ts); run and keep are then false. */
  denied?: readonly string[]
  /** A NoExecute taint is tolerated for a while only: look again in this many ms (the copy is evicted then). */
  evictInMs?: number
  /** Why a copy here is evicted (a NoExecute taint's tolerationSeconds passed), when it is. */
  evicted?: string
}

/** ObservedState is what Docker says of one container beyond the listing. */
export interface ObservedState {
  status: string
  restarts: number
  /** Wall ms of its last start (0: never started). */
  startedAt: number
  error: string
  /** Its stop timeout (the grace period it was created with), seconds. */
  stopTimeout?: number
}

/** DeleteRequest is an operator's request (`delete pod`) to delete this host's copy of a DaemonSet. */
export interface DeleteRequest {
  /** Identifies the request (key@hlc) so that it is carried out once. */
  id: string
  revision: string
  since: number
}

/** Failure is a pull, start or stop that failed, backed off until `until`. */
export interface Failure {
  error: string
  until: number
  delay: number
  /** The step that failed (absent: a pull or a start). A stop that failed holds back the copy's removals too. */
  during?: 'pull' | 'start' | 'stop'
  /** Wall ms when it failed (for the node record). */
  at?: number
}

/**
 * Crash is a copy whose container the agent restarted because a probe said it was unhealthy
 * (liveness or startup): it is not started again before `until` (the kubelet's
 * CrashLoopBackOff, 10 s doubling to 5 min).
 */
export interface Crash {
  until: number
  delay: number
  /** Why it was restarted last (`Liveness probe failed: …`). */
  why: string
  /** Monotonic ms of the last restart. */
  at: number
}

/** ProbeState is a container's probe results: readiness, and why it must be restarted. */
export interface ProbeState {
  ready: boolean
  why?: string
  /** Its liveness (or startup) probe failed: restart it. */
  unhealthy?: string
}

/** PassInput is everything one pass decides on: plain data. */
export interface PassInput {
  /** Monotonic now, and when the agent started on the same clock. */
  now: number
  startedAt: number
  /** Wall now, for a copy that never started (its `since`). */
  wallNow: number
  sweepGraceMs: number
  /** Poll period while an update waits (for a slot or for availability). */
  pollMs: number
  wanted: readonly Wanted[]
  /** The DaemonSet (label form) that adopted each orphaned container, by container name, as the last pass found. */
  owners: ReadonlyMap<string, string>
  /** Label forms of DaemonSets deleted (copies go) and deleted with --cascade=orphan (copies stay). */
  deleted: ReadonlySet<string>
  orphaned: ReadonlySet<string>
  /** This node's managed containers as listed. */
  containers: readonly ObservedContainer[]
  /** Inspected state per container name (missing: not inspected or gone). */
  states: ReadonlyMap<string, ObservedState>
  /** Probe results per container name (absent: no probe, ready when running). */
  probes: ReadonlyMap<string, ProbeState>
  /** Copies restarted for a failed probe, in back-off, per DaemonSet label form. */
  crashes: ReadonlyMap<string, Crash>
  /** Copies running their init containers now, with their status (`Init:1/2`), per DaemonSet label form. */
  initializing: ReadonlyMap<string, string>
  /** Restarts the agent made (for failed probes) per container name: RESTARTS adds them to Docker's. */
  restarts: ReadonlyMap<string, number>
  /** When each copy (`NS/NAME@revision`) was first seen ready, monotonic and wall. */
  readySince: ReadonlyMap<string, { mono: number; wall: number }>
  /** Failures being backed off, per DaemonSet label form. */
  failures: ReadonlyMap<string, Failure>
  /** Revisions whose images were pulled for an update (`NS.NAME@revision`). */
  pulled: ReadonlySet<string>
  /** The lease's answer per DaemonSet key form. */
  slots: ReadonlyMap<string, SlotAnswer>
  /** Pending delete requests per DaemonSet key form (already carried out ones are left out). */
  deleteRequests: ReadonlyMap<string, DeleteRequest>
  /** What this host reported last, per DaemonSet key form. */
  reported: Readonly<Record<string, PodStatus>>
}

/** Action is one step of the pass, carried out in order. */
export type Action =
  | { do: 'remove'; removals: Removal[] }
  | { do: 'delete-pod'; ref: DsRef; request: string; removals: Removal[] }
  | { do: 'start'; ref: DsRef; plan: PodPlan }
  | { do: 'pull'; ref: DsRef; plan: PodPlan }
  | { do: 'claim'; ref: DsRef; revision: string; kind: SlotKind }
  /** Move to the current revision: under a slot of `kind` (fence first), or, with no kind, replace a copy that is not ready. */
  | { do: 'update'; ref: DsRef; plan: PodPlan; kind?: SlotKind; term?: number; stop: Removal[] }
  | { do: 'release'; ref: DsRef }
  /** Restart containers a probe found unhealthy: stop them (preStop first, within the grace); a later start brings them back after the back-off. */
  | { do: 'restart'; ref: DsRef; removals: Removal[]; why: string }

/** PassPlan is what one pass decided. */
export interface PassPlan {
  actions: Action[]
  /** The pods to report in the node record, as observed before acting. */
  report: Record<string, PodStatus>
  /** Why each DaemonSet's update waits, by key form. */
  waiting: Map<string, string>
  /** Look again within this many ms (undefined: no need before the next trigger). */
  recheckMs: number | undefined
  /** The owner of every adopted container (by name): the next pass's `owners`. */
  owners: Map<string, string>
}

const readyKey = (ref: DsRef, revision: string): string => `${ref.key}@${revision}`

/** Copy is a copy (one revision of one DaemonSet) judged ready or not. */
interface Copy {
  revision: string
  containers: ObservedContainer[]
  ready: boolean
}

/** copiesOf groups a DaemonSet's containers by revision and judges each copy's readiness. */
function copiesOf(containers: readonly ObservedContainer[], probes: PassInput['probes']): Copy[] {
  const byRevision = new Map<string, ObservedContainer[]>()
  for (const c of containers) byRevision.set(c.revision, [...(byRevision.get(c.revision) ?? []), c])
  return [...byRevision].map(([revision, cs]) => ({ revision, containers: cs, ready: copyReady(cs.map((c) => ({ running: c.running, probeReady: probes.get(c.name)?.ready ?? true }))) }))
}

/**
 * readyCopies returns the copies (`NS/NAME@revision`) that are ready now: the reconciler
 * keeps a first-seen-ready time for exactly these, which availability is measured from.
 */
export function readyCopies(wanted: readonly Wanted[], containers: readonly ObservedContainer[], orphaned: ReadonlySet<string>, probes: PassInput['probes'], owners: ReadonlyMap<string, string> = new Map()): Set<string> {
  const adopted = adoptOrphans(desiredOf(wanted), containers, orphaned, owners)
  const out = new Set<string>()
  for (const w of wanted) {
    for (const c of copiesOf(adopted.filter((x) => x.daemonSet === w.ref.label), probes)) if (c.ready) out.add(readyKey(w.ref, c.revision))
  }
  return out
}

function desiredOf(wanted: readonly Wanted[]): DesiredPod[] {
  return wanted.map((w) => ({ daemonSet: w.ref.label, revision: w.revision, run: w.run, keep: w.keep, containers: w.plan.containers.map((c) => c.name), selects: w.selects, ...(w.evicted === undefined ? {} : { evicted: w.evicted }) }))
}

/** Decision accumulates the decision while planPass walks the DaemonSets. */
class Decision {
  readonly actions: Action[] = []
  readonly waiting = new Map<string, string>()
  recheckMs: number | undefined
  constructor(private readonly input: PassInput) {}

  recheck(ms: number): void {
    this.recheckMs = Math.max(0, Math.min(this.recheckMs ?? ms, ms))
  }

  /** availableNow says whether a copy is available (ready for minReadySeconds), asking for a look when it will be. */
  availableNow(w: Wanted, copy: Copy | undefined): boolean {
    if (copy === undefined || !copy.ready) return false
    const since = this.input.readySince.get(readyKey(w.ref, copy.revision))?.mono ?? this.input.now
    const left = availableIn(since, w.ds.spec.minReadySeconds ?? 0, this.input.now)
    if (left > 0) this.recheck(Math.min(left + 20, this.input.pollMs))
    return left <= 0
  }

  /** backedOff says whether a failure of this copy is backed off; with `crash`, a liveness restart's back-off too (it holds back a start, not an update). */
  backedOff(w: Wanted, crash = false): boolean {
    const f = this.input.failures.get(w.ref.label)
    const c = crash ? this.input.crashes.get(w.ref.label) : undefined
    if (c !== undefined && c.until > this.input.now) this.recheck(c.until - this.input.now + 20)
    return (f !== undefined && f.until > this.input.now) || (c !== undefined && c.until > this.input.now)
  }

  /** stopBackedOff says whether a stop of this copy (label form) failed and is being backed off. */
  stopBackedOff(label: string): boolean {
    const f = this.input.failures.get(label)
    return f?.during === 'stop' && f.until > this.input.now
  }
}

const rolling = (w: Wanted): boolean => w.ds.spec.updateStrategy?.type === 'RollingUpdate'

/**
 * planPass decides one pass. In order:
 * 1. copies an operator asked to delete (same revision, started no later than they saw) go;
 * 2. orphaned copies are adopted by a DaemonSet whose selector matches them;
 * 3. planNode places: one copy per DaemonSet that should be here, extras and copies of
 *    deleted or no-longer-matching DaemonSets removed (a surging DaemonSet keeps its old copy
 *    until the new one is available);
 * 4. missing copies start, unless a failure is backed off;
 * 5. outdated copies of RollingUpdate DaemonSets: images are pulled first; a copy that is
 *    not ready is replaced at once; otherwise a lease slot is claimed, and once granted the
 *    copy is updated under it (surge: the new copy starts beside the old);
 * 6. a held slot is released once this host's copy is current, alone and available;
 * 7. every copy here (or failure to start one) is reported as observed; a DaemonSet this
 *    host's policy refuses is reported Pending with `PolicyDenied: RULE`.
 * A copy whose stop failed takes no step (no removal, no start) until its back-off ends; every
 * removal carries its grace period (withGrace). The actions are per copy: stepsByCopy splits them.
 */
export function planPass(input: PassInput): PassPlan {
  const d = new Decision(input)
  let containers = [...input.containers]

  for (const w of input.wanted) {
    const req = input.deleteRequests.get(w.ref.key)
    const reported = input.reported[w.ref.key]
    if (req === undefined || reported === undefined || reported.revision !== req.revision || reported.since > req.since) continue
    if (d.stopBackedOff(w.ref.label)) continue
    const mine = containers.filter((c) => c.daemonSet === w.ref.label)
    d.actions.push({ do: 'delete-pod', ref: w.ref, request: req.id, removals: mine.map((c) => ({ id: c.id, name: c.name, daemonSet: c.daemonSet, reason: 'deleted as requested' })) })
    containers = containers.filter((c) => c.daemonSet !== w.ref.label)
  }

  const desired = desiredOf(input.wanted)
  const adopted = adoptOrphans(desired, containers, input.orphaned, input.owners)
  for (const w of input.wanted) if (w.evictInMs !== undefined) d.recheck(w.evictInMs + 20)
  const byLabel = new Map<string, ObservedContainer[]>()
  for (const c of adopted) byLabel.set(c.daemonSet, [...(byLabel.get(c.daemonSet) ?? []), c])
  const copies = new Map(input.wanted.map((w) => [w.ref.label, copiesOf(byLabel.get(w.ref.label) ?? [], input.probes)]))
  const fresh = (w: Wanted): Copy | undefined => copies.get(w.ref.label)?.find((c) => c.revision === w.revision)

  const surging = new Set<string>()
  for (const w of input.wanted) {
    const all = copies.get(w.ref.label) ?? []
    const f = fresh(w)
    if (!rolling(w) || f === undefined || all.length === 1) continue
    if (rolloutLimits(w.ds, 1).maxSurge > 0 && !d.availableNow(w, f)) surging.add(w.ref.label)
  }

  const placed = planNode(desired, containers, { now: input.now, startedAt: input.startedAt, sweepGraceMs: input.sweepGraceMs, deleted: input.deleted, orphaned: input.orphaned, surging, owners: input.owners })
  const removals = placed.remove.filter((r) => !d.stopBackedOff(r.daemonSet))
  if (removals.length > 0) d.actions.push({ do: 'remove', removals })
  const byRef = new Map(input.wanted.map((w) => [w.ref.label, w]))
  for (const label of placed.start) {
    const w = byRef.get(label)
    if (w !== undefined && !d.backedOff(w, true)) d.actions.push({ do: 'start', ref: w.ref, plan: w.plan })
  }
  for (const label of placed.outdated) {
    const w = byRef.get(label)
    if (w !== undefined && rolling(w) && !d.backedOff(w)) planUpdate(d, input, w, (copies.get(label) ?? []).filter((c) => c.revision !== w.revision))
  }

  for (const w of input.wanted) {
    const f = fresh(w)
    if (f === undefined || d.stopBackedOff(w.ref.label) || d.actions.some((a) => a.do === 'update' && a.ref.label === w.ref.label)) continue
    const sick = f.containers.filter((c) => c.running && input.probes.get(c.name)?.unhealthy !== undefined)
    const first = sick[0]
    if (first === undefined) continue
    const why = input.probes.get(first.name)?.unhealthy ?? ''
    d.actions.push({ do: 'restart', ref: w.ref, why, removals: sick.map((c) => ({ id: c.id, name: c.name, daemonSet: c.daemonSet, reason: `${why.split(':')[0] ?? 'probe failed'}, will be restarted` })) })
  }

  for (const w of input.wanted) {
    if (input.slots.get(w.ref.key)?.phase !== 'acting') continue
    const all = copies.get(w.ref.label) ?? []
    if (!w.run || (all.length === 1 && d.availableNow(w, fresh(w)))) d.actions.push({ do: 'release', ref: w.ref })
    else d.recheck(input.pollMs)
  }

  return { actions: withGrace(d.actions, input), report: report(d, input, copies), waiting: d.waiting, recheckMs: d.recheckMs, owners: ownersOf(containers, adopted) }
}

/**
 * withGrace gives every removal its grace period: the stop timeout the container was created
 * with, as inspected; else its DaemonSet's terminationGracePeriodSeconds; else Kubernetes'
 * default, 30 s; and its lifecycle hooks (a preStop runs within that grace).
 */
function withGrace(actions: Action[], input: PassInput): Action[] {
  const byLabel = new Map(input.wanted.map((w) => [w.ref.label, w.ds.spec.template.spec.terminationGracePeriodSeconds]))
  const byName = new Map(input.containers.map((c) => [c.name, c]))
  const grace = (r: Removal): Removal => {
    const c = byName.get(r.name)
    return { ...r, graceSeconds: input.states.get(r.name)?.stopTimeout ?? byLabel.get(r.daemonSet) ?? DEFAULT_TERMINATION_GRACE_SECONDS, ...(c?.hooks === undefined || !c.running ? {} : { hooks: c.hooks, podOwner: c.podOwner }) }
  }
  return actions.map((a) => {
    if (a.do === 'remove' || a.do === 'delete-pod' || a.do === 'restart') return { ...a, removals: a.removals.map(grace) }
    if (a.do === 'update') return { ...a, stop: a.stop.map(grace) }
    return a
  })
}

/** copyOf returns the copy (DaemonSet label form) an action is a step of; a 'remove' may span copies (see stepsByCopy). */
function copyOf(a: Exclude<Action, { do: 'remove' }>): string {
  return a.ref.label
}

/**
 * stepsByCopy splits a pass's actions into each copy's steps, by DaemonSet label form, in
 * the order planPass gave them: a removal list that spans copies becomes one 'remove' step
 * per copy. Each copy's worker performs its steps one after another; different copies'
 * steps are independent of each other (a copy's containers are only ever touched by its
 * own worker), so the workers run concurrently.
 */
export function stepsByCopy(actions: readonly Action[]): Map<string, Action[]> {
  const out = new Map<string, Action[]>()
  const add = (copy: string, a: Action): void => {
    const list = out.get(copy)
    if (list === undefined) out.set(copy, [a])
    else list.push(a)
  }
  for (const a of actions) {
    if (a.do !== 'remove') {
      add(copyOf(a), a)
      continue
    }
    const byCopy = new Map<string, Removal[]>()
    for (const r of a.removals) byCopy.set(r.daemonSet, [...(byCopy.get(r.daemonSet) ?? []), r])
    for (const [copy, removals] of byCopy) add(copy, { do: 'remove', removals })
  }
  return out
}

/** planUpdate decides step 5 for one DaemonSet whose copy here is outdated. */
function planUpdate(d: Decision, input: PassInput, w: Wanted, old: readonly Copy[]): void {
  if (!input.pulled.has(`${w.ref.label}@${w.revision}`)) d.actions.push({ do: 'pull', ref: w.ref, plan: w.plan })
  const stop = old.flatMap((c) => c.containers.map((x) => ({ id: x.id, name: x.name, daemonSet: x.daemonSet, reason: 'replaced by the current revision' })))
  if (!old.every((c) => c.ready)) {
    d.actions.push({ do: 'update', ref: w.ref, plan: w.plan, stop })
    return
  }
  const kind: SlotKind = rolloutLimits(w.ds, 1).maxSurge > 0 ? 'surge' : 'unavailable'
  const slot = input.slots.get(w.ref.key) ?? { phase: 'idle' }
  if (slot.phase === 'granted' || slot.phase === 'acting') {
    d.actions.push({ do: 'update', ref: w.ref, plan: w.plan, kind, term: slot.term, stop: kind === 'surge' ? [] : stop })
    return
  }
  d.actions.push({ do: 'claim', ref: w.ref, revision: w.revision, kind })
  d.waiting.set(w.ref.key, slot.phase === 'waiting' ? slot.why : 'waiting for its turn')
  d.recheck(input.pollMs)
}

/** report builds the pod status of every DaemonSet with a copy (or a failure) here. */
function report(d: Decision, input: PassInput, copies: ReadonlyMap<string, Copy[]>): Record<string, PodStatus> {
  const pods: Record<string, PodStatus> = {}
  for (const w of input.wanted) {
    const all = copies.get(w.ref.label) ?? []
    const failure = input.failures.get(w.ref.label)
    if (w.denied !== undefined && w.denied.length > 0 && all.length === 0) {
      pods[w.ref.key] = { revision: w.revision, phase: 'Pending', ready: false, restarts: 0, since: input.reported[w.ref.key]?.since ?? input.wallNow, available: false, lastError: `PolicyDenied: ${w.denied.join('; ')}`.slice(0, 1000) }
      continue
    }
    const init = input.initializing.get(w.ref.label)
    if (all.length === 0 && failure === undefined && init === undefined) continue
    // While surging, the new copy is the one reported.
    const copy = all.find((c) => c.revision === w.revision) ?? all[0]
    const revision = copy?.revision ?? w.revision
    const cs = copy?.containers ?? []
    const states = cs.map((c) => input.states.get(c.name)).filter((s) => s !== undefined)
    const ready = copy?.ready === true
    const available = d.availableNow(w, copy)
    const probed = cs.some((c) => c.readiness !== undefined)
    const seen = input.readySince.get(readyKey(w.ref, revision))?.wall
    const since = Math.max(0, ...states.map((s) => s.startedAt))
    const crash = input.crashes.get(w.ref.label)
    const looping = crash !== undefined && crash.until > input.now && cs.some((c) => !c.running)
    const error = looping
      ? `back-off ${Math.round(crash.delay / 1000)}s restarting failed container: ${crash.why}`
      : (failure?.error ?? states.find((s) => s.error !== '')?.error ?? cs.map((c) => input.probes.get(c.name)?.unhealthy ?? input.probes.get(c.name)?.why).find((why) => why !== undefined))
    const waiting = revision === w.revision ? undefined : d.waiting.get(w.ref.key)
    pods[w.ref.key] = {
      revision,
      available,
      phase: ready ? 'Running' : states.some((s) => s.status === 'exited' || s.status === 'dead') ? 'Failed' : 'Pending',
      ready,
      restarts: states.reduce((a, s) => a + s.restarts, 0) + cs.reduce((a, c) => a + (input.restarts.get(c.name) ?? 0), 0),
      ...(looping ? { reason: 'CrashLoopBackOff' } : {}),
      ...(!looping && all.length === 0 && init !== undefined ? { reason: init } : {}),
      ...(!looping && init === undefined && /^Init:[A-Za-z]+/.test(failure?.error ?? '') ? { reason: /^Init:[A-Za-z]+/.exec(failure?.error ?? '')?.[0] } : {}),
      // A copy that never started keeps the time it was first reported, so the record does not churn.
      since: since > 0 ? since : (input.reported[w.ref.key]?.since ?? input.wallNow),
      ...(ready && probed && seen !== undefined ? { readySince: seen } : ready && since > 0 ? { readySince: since } : {}),
      ...(error === undefined || error === '' ? {} : { lastError: error.slice(0, 1000) }),
      ...(waiting === undefined ? {} : { waiting: waiting.slice(0, 300) }),
    }
  }
  return pods
}
