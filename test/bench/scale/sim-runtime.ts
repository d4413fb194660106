// A ContainerRuntime for a simulated host, which has no Docker: containers are records in
// memory that start after a pull and a `docker run` of modelled length and run until removed.
// It keeps what the reconciler reads back (labels, revision, running state, start time) the
// way DockerRuntime reports them. Simulator only.

import { Labels, type PodPlan } from '../../../core/container-spec.js'
import type { ObservedContainer } from '../../../core/reconcile.js'
import type { Clock } from '../../../agent/clock.js'
import type { ContainerRuntime, ContainerState } from '../../../agent/runtime/runtime.js'

interface Container {
  observed: ObservedContainer
  startedAt: number
}

/** SimRuntime runs one simulated host's containers; `startMs` is what one pod start takes. */
export class SimRuntime implements ContainerRuntime {
  private readonly clock: Clock
  private readonly startMs: number
  private readonly containers = new Map<string, Container>()
  private readonly images = new Set<string>()
  private watcher: (() => void) | undefined
  private seq = 0
  /** Pods started and containers removed, for the report. */
  readonly counts = { started: 0, removed: 0 }

  constructor(clock: Clock, startMs: number) {
    this.clock = clock
    this.startMs = startMs
  }

  /** list returns every container: a simulated host runs only its own node's. */
  async list(): Promise<ObservedContainer[]> {
    return [...this.containers.values()].map((c) => ({ ...c.observed, labels: { ...c.observed.labels } }))
  }

  async states(names: readonly string[]): Promise<ContainerState[]> {
    const out: ContainerState[] = []
    for (const name of names) {
      const c = this.containers.get(name)
      if (c !== undefined) out.push({ name, status: 'running', running: true, restarts: 0, startedAt: c.startedAt, exitCode: 0, error: '', stopTimeout: 30 })
    }
    return out
  }

  async pullImages(plan: PodPlan): Promise<void> {
    for (const c of plan.containers) this.images.add(c.create.Image)
  }

  /** refreshFiles: a simulated pod has no files. */
  async refreshFiles(): Promise<void> {}

  async hasImages(plan: PodPlan): Promise<boolean> {
    return plan.containers.every((c) => this.images.has(c.create.Image))
  }

  /** preparePod: a simulated pod is made and started in one modelled step (startMs). */
  async preparePod(): Promise<boolean> {
    return false
  }

  async startPod(plan: PodPlan): Promise<void> {
    await this.pullImages(plan)
    await this.clock.sleep(this.startMs)
    const owner = plan.containers[0]?.create.name ?? ''
    for (const c of plan.containers) {
      if (this.containers.has(c.create.name)) continue
      const labels = Object.fromEntries(Object.entries(c.create.Labels).filter(([k]) => !k.startsWith('daemonmesh.io/')))
      const readiness = c.create.Labels[Labels.readiness]
      this.containers.set(c.create.name, {
        startedAt: this.clock.wall(),
        observed: {
          id: `sim-${this.seq++}`,
          name: c.create.name,
          daemonSet: plan.daemonSet,
          revision: plan.revision,
          container: c.name,
          podOwner: owner,
          running: true,
          createdAt: this.clock.wall(),
          labels,
          ...(readiness === undefined ? {} : { readiness }),
        },
      })
    }
    this.counts.started++
    this.changed()
  }

  async stopContainer(id: string): Promise<void> {
    for (const [name, c] of this.containers) if (c.observed.id === id || name === id) c.observed = { ...c.observed, running: false }
    this.changed()
  }

  async remove(id: string): Promise<void> {
    for (const [name, c] of this.containers) {
      if (c.observed.id !== id && name !== id) continue
      this.containers.delete(name)
      this.counts.removed++
    }
    this.changed()
  }

  /** revisions returns the revisions of the running containers of a DaemonSet (label form). */
  revisions(daemonSet: string): string[] {
    return [...new Set([...this.containers.values()].filter((c) => c.observed.daemonSet === daemonSet && c.observed.running).map((c) => c.observed.revision))]
  }

  async exec(): Promise<number> {
    return 0
  }

  async address(): Promise<string | undefined> {
    return '127.0.0.1'
  }

  watch(_node: string, onChange: () => void): void {
    this.watcher = onChange
  }

  stop(): void {
    this.watcher = undefined
  }

  private changed(): void {
    const w = this.watcher
    if (w !== undefined) queueMicrotask(w)
  }
}
