// One reconcile pass of one host, decided: from what the reconciler observed (the live
// DaemonSets and their pod plans, Docker's containers and their states, readiness, the
// rollout lease's answers, failures being backed off), planPass says what to pull, claim,
// stop, start and release, in order, what to report in the node record, and when to look
// again. The reconciler hands each copy's steps (stepsByCopy) to that copy's worker; nothing
// here performs or logs anything. Times are the host's monotonic milliseconds except
// `wallNow` (only for the record).

import type { DsRef } from './keyspace.js'
import type { SlotKind } from './lease.js'
import type { PodStatus } from './node-record.js'
import { WAITING_FOR_A_SLOT, waitingReason } from './pacing.js'
import { DEFAULT_TERMINATION_GRACE_SECONDS } from './defaults.js'
import type { Action, PassInput, PassPlan, Wanted } from './pass-types.js'
import { adoptOrphans, ownersOf, planNode, setAside, type DesiredPod, type ObservedContainer, type Removal } from './reconcile.js'
import { availableIn, copyReady, rolloutLimits } from './rollout.js'


export type { SlotAnswer, Wanted, ObservedState, DeleteRequest, Failure, Crash, ProbeState, PassInput, Action, PassPlan } from './pass-types.js'

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

/**
 * withoutPrepared returns the containers less those of a pod prepared for an update while the
 * old copy runs (setAside, core/reconcile.ts), an adopted orphan counting as its adopter's copy.
 */
export function withoutPrepared(wanted: readonly Wanted[], containers: readonly ObservedContainer[], orphaned: ReadonlySet<string>, owners: ReadonlyMap<string, string> = new Map()): ObservedContainer[] {
  const adopted = adoptOrphans(desiredOf(wanted), containers, orphaned, owners)
  return setAside(containers, new Map(wanted.map((w) => [w.ref.label, w.revision])), adopted)
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
    // A look 2 ms after it becomes available: the slot a host holds is released that soon.
    if (left > 0) this.recheck(Math.min(left + 2, this.input.pollMs))
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
  // Waiting for its turn (not for a claim's answer): the new pod is created meanwhile, so that
  // the update only starts it. The host whose claim is answered at once creates it under the
  // slot, as before: at a rollout's start, with the others creating theirs, it would wait.
  const key = `${w.ref.label}@${w.revision}`
  if (slot.phase === 'waiting' && slot.claiming !== true && input.pulled.has(key) && !input.prepared.has(key)) d.actions.push({ do: 'prepare', ref: w.ref, plan: w.plan })
  d.waiting.set(w.ref.key, slot.phase === 'waiting' ? waitingReason(slot.why) : WAITING_FOR_A_SLOT)
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
    const held = input.slots.get(w.ref.key)
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
      ...((held?.phase === 'granted' || held?.phase === 'acting') && held.kind !== undefined && held.slot !== undefined ? { updateSlot: { kind: held.kind, slot: held.slot, term: held.term } } : {}),
    }
  }
  return pods
}
