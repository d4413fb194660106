// The reconciler's decision, pure: given what should run on this node and the managed
// containers Docker reports, which pods to start (or complete) and which containers to
// remove. Decide here, act in agent/runtime. No I/O, no logging.

/** ObservedContainer is one managed container as Docker reports it. */
export interface ObservedContainer {
  id: string
  name: string
  /** `NAMESPACE.NAME` from the daemonset label. */
  daemonSet: string
  revision: string
  /** The container's name in the pod template. */
  container: string
  /** The pod's network owner (its first container's name): containers of one pod share it. */
  podOwner: string
  running: boolean
  /** Created and never started (Docker's `created` state): a prepared pod's, or a start cut short. */
  neverStarted?: boolean
  /** Creation time, ms since epoch. */
  createdAt: number
  /** The pod template's labels the container carries (daemonmesh.io/* excluded). */
  labels: Record<string, string>
  /** Its readiness check (the daemonmesh.io/readiness label), when it has one. */
  readiness?: string
  /** Its liveness and startup checks and its lifecycle hooks (their labels), when it has them. */
  liveness?: string
  startup?: string
  hooks?: string
}

/** DesiredPod is what this node should do for one live DaemonSet. */
export interface DesiredPod {
  daemonSet: string
  revision: string
  /** shouldRun: place a copy. */
  run: boolean
  /** shouldContinueRunning: a copy already here may stay. */
  keep: boolean
  /** Names (in the pod template) of the pod's containers, in order. */
  containers: string[]
  /** The DaemonSet's selector, to adopt orphaned copies whose labels it matches. */
  selects: (labels: Record<string, string>) => boolean
  /** Why a copy here must go although the DaemonSet matches this node otherwise (an eviction); the removal's reason. */
  evicted?: string
}

export interface PlanOptions {
  now: number
  /** When this agent started (ms): containers of unknown DaemonSets are kept for a grace period after. */
  startedAt: number
  /** How long unknown labelled containers are left alone after start (re-adoption window). */
  sweepGraceMs: number
  /** DaemonSets known to be deleted (a tombstone): their copies go at once. */
  deleted: ReadonlySet<string>
  /** DaemonSets deleted with --cascade=orphan: their copies are left running, unmanaged. */
  orphaned: ReadonlySet<string>
  /** DaemonSets surging here (maxSurge): an old copy stays beside the new one until that is available. */
  surging?: ReadonlySet<string>
  /** The DaemonSet (label form) that adopted each orphaned container, by container name (ownerReferences). */
  owners?: ReadonlyMap<string, string>
}

/** Removal is one container to stop and remove: its copy's worker (by DaemonSet label form) does it. */
export interface Removal {
  id: string
  name: string
  /** The DaemonSet (label form) whose copy it belongs to here, adopted orphans under their adopter. */
  daemonSet: string
  reason: string
  /** How long it may take to stop (its stop timeout), seconds; planPass fills it in. */
  graceSeconds?: number
  /** Its lifecycle hooks label (preStop runs before the stop signal) and its pod's network owner; planPass fills them in. */
  hooks?: string
  podOwner?: string
}

/** NodePlan is what to do now. */
export interface NodePlan {
  /** DaemonSets whose current-revision pod must be created or completed (missing containers). */
  start: string[]
  remove: Removal[]
  /** DaemonSets whose kept pod is an older revision (left for the rollout or OnDelete). */
  outdated: string[]
}

interface Pod {
  owner: string
  revision: string
  containers: ObservedContainer[]
  createdAt: number
  running: boolean
}

function podsOf(observed: readonly ObservedContainer[]): Pod[] {
  const byOwner = new Map<string, ObservedContainer[]>()
  for (const c of observed) byOwner.set(c.podOwner, [...(byOwner.get(c.podOwner) ?? []), c])
  return [...byOwner.entries()].map(([owner, containers]) => ({
    owner,
    revision: containers[0]?.revision ?? '',
    containers,
    createdAt: Math.min(...containers.map((c) => c.createdAt)),
    running: containers.every((c) => c.running),
  }))
}

/**
 * setAside leaves out the containers of a prepared pod: a pod of its DaemonSet's current
 * revision (`current`: the revision, by DaemonSet label form) whose every container was
 * created and never started, while another pod of that DaemonSet runs. The reconciler
 * creates such a pod once an update's images are pulled, before its slot, so that the update
 * only starts it: Docker's create is made before the host has no running copy, not after.
 * While the old copy runs the prepared pod is no copy: not kept, started, removed, probed nor
 * reported. Once no other pod runs (the update stopped the old copy, or it failed) it is a pod
 * like any other: the copy, started (a start cut short) or reported failing, as a pod the
 * update created itself would be. A prepared pod of a revision no longer current is an extra
 * copy, removed.
 */
export function setAside(observed: readonly ObservedContainer[], current: ReadonlyMap<string, string>, adopted: readonly ObservedContainer[] = observed): ObservedContainer[] {
  // Grouped by owner as adoption makes it (`adopted`: adoptOrphans of `observed`, in order): an adopted orphan is its adopter's copy.
  const owned = observed.map((c, i) => ({ ...c, daemonSet: adopted[i]?.daemonSet ?? c.daemonSet }))
  const byDs = new Map<string, ObservedContainer[]>()
  for (const c of owned) byDs.set(c.daemonSet, [...(byDs.get(c.daemonSet) ?? []), c])
  // A pod's containers share its owner, which names its revision: one pod per revision here.
  const aside = new Set<string>()
  for (const [ds, containers] of byDs) {
    const pods = podsOf(containers)
    const prepared = pods.find((p) => p.revision === current.get(ds) && p.containers.every((c) => c.neverStarted === true))
    if (prepared !== undefined && pods.some((p) => p !== prepared && p.running)) aside.add(`${ds} ${prepared.owner}`)
  }
  return aside.size === 0 ? [...observed] : observed.filter((_, i) => !aside.has(`${owned[i]?.daemonSet} ${owned[i]?.podOwner}`))
}

const removeAll = (pod: Pod, reason: string): Removal[] => pod.containers.map((c) => ({ id: c.id, name: c.name, daemonSet: c.daemonSet, reason }))

/**
 * adoptOrphans returns the containers with those left by a `--cascade=orphan` delete
 * reassigned to their owner: the DaemonSet that adopted them before (`owners`, by container
 * name; it owns them as an ownerReference would, so deleting it removes them, and an orphan
 * delete of it orphans them again), else the first live DaemonSet whose selector matches
 * their labels, which adopts them as they are (seed 000, "Updating a DaemonSet").
 */
export function adoptOrphans(desired: readonly DesiredPod[], observed: readonly ObservedContainer[], orphaned: ReadonlySet<string>, owners: ReadonlyMap<string, string> = new Map()): ObservedContainer[] {
  const live = new Set(desired.map((d) => d.daemonSet))
  return observed.map((c) => {
    if (live.has(c.daemonSet) || !orphaned.has(c.daemonSet)) return c
    const owner = owners.get(c.name)
    if (owner !== undefined && !orphaned.has(owner)) return { ...c, daemonSet: owner }
    const adopter = desired.find((d) => d.selects(c.labels))
    return adopter === undefined ? (owner === undefined ? c : { ...c, daemonSet: owner }) : { ...c, daemonSet: adopter.daemonSet }
  })
}

/** ownersOf returns the owner of every adopted container (by name), for the next pass's adoptOrphans. */
export function ownersOf(observed: readonly ObservedContainer[], adopted: readonly ObservedContainer[]): Map<string, string> {
  const out = new Map<string, string>()
  adopted.forEach((c, i) => {
    if (observed[i]?.daemonSet !== c.daemonSet) out.set(c.name, c.daemonSet)
  })
  return out
}

/**
 * planNode returns what to start and remove so that each DaemonSet that should be here has
 * exactly one pod: it keeps the current revision's pod if there is one, else the oldest
 * running pod (an older revision waits for the rollout, or forever with OnDelete), and
 * removes extras (but while surging, one old copy stays beside the new); copies of DaemonSets this node no longer matches, or that were deleted,
 * are removed; copies of unknown DaemonSets are kept during the grace period after the
 * agent starts, and orphaned ones are never touched.
 */
export function planNode(desired: readonly DesiredPod[], observedRaw: readonly ObservedContainer[], opts: PlanOptions): NodePlan {
  const plan: NodePlan = { start: [], remove: [], outdated: [] }
  const observed = adoptOrphans(desired, observedRaw, opts.orphaned, opts.owners)
  const byDs = new Map<string, ObservedContainer[]>()
  for (const c of observed) byDs.set(c.daemonSet, [...(byDs.get(c.daemonSet) ?? []), c])
  const wanted = new Map(desired.map((d) => [d.daemonSet, d]))

  for (const [ds, containers] of byDs) {
    if (wanted.has(ds) || opts.orphaned.has(ds)) continue
    const pods = podsOf(containers)
    if (opts.deleted.has(ds)) for (const p of pods) plan.remove.push(...removeAll(p, 'its DaemonSet was deleted'))
    else if (opts.now - opts.startedAt >= opts.sweepGraceMs) for (const p of pods) plan.remove.push(...removeAll(p, 'no such DaemonSet'))
  }

  for (const d of desired) {
    const pods = podsOf(byDs.get(d.daemonSet) ?? [])
    if (!d.run && !(d.keep && pods.length > 0)) {
      for (const p of pods) plan.remove.push(...removeAll(p, d.evicted ?? 'this node no longer matches the DaemonSet'))
      continue
    }
    const current = pods.filter((p) => p.revision === d.revision)
    const byAge = (a: Pod, b: Pod): number => a.createdAt - b.createdAt || (a.owner < b.owner ? -1 : 1)
    let keep: Pod | undefined = current.sort(byAge)[0]
    if (keep === undefined) keep = [...pods.filter((p) => p.running).sort(byAge), ...pods.filter((p) => !p.running).sort(byAge)][0]
    // While surging, the oldest running copy of another revision stays beside the new one.
    const surged = keep?.revision === d.revision && opts.surging?.has(d.daemonSet) === true ? pods.filter((p) => p.revision !== d.revision && p.running).sort(byAge)[0] : undefined
    for (const p of pods) if (p !== keep && p !== surged) plan.remove.push(...removeAll(p, 'an extra copy'))
    if (keep === undefined) {
      if (d.run) plan.start.push(d.daemonSet)
    } else if (keep.revision === d.revision) {
      const have = new Set(keep.containers.map((c) => c.container))
      if (d.containers.some((n) => !have.has(n)) || !keep.running) plan.start.push(d.daemonSet)
    } else {
      plan.outdated.push(d.daemonSet)
    }
  }
  return plan
}
