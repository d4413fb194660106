// The container runtime as the reconciler and the prober see it: list this node's managed
// containers, inspect their state, pull images, start a pod from core's PodPlan, remove a
// container, run a probe command, and follow changes. Docker (docker.ts) is the one
// production implementation; nothing outside agent/runtime knows Docker. Every call ends:
// one that does not answer in time rejects with CallTimeoutError (limiter.ts).

import type { PodPlan } from '../../core/container-spec.js'
import type { ObservedContainer } from '../../core/reconcile.js'

/** ImagePullError is thrown when an image cannot be pulled (ErrImagePull); callers branch on `name`. */
export class ImagePullError extends Error {
  override readonly name = 'ImagePullError'
}

/** InitContainerError is thrown when an init container exits non-zero (or outlives its deadline): Init:Error. */
export class InitContainerError extends Error {
  override readonly name = 'InitContainerError'
}

/** ContainerState is what status reporting needs from one container. */
export interface ContainerState {
  name: string
  status: string
  running: boolean
  restarts: number
  /** When it last started, ms since the epoch (0: never). */
  startedAt: number
  exitCode: number
  error: string
  /** Its stop timeout (the grace period it was created with), seconds. */
  stopTimeout: number
}

/**
 * ContainerRuntime runs this node's copies. Calls may run concurrently (each copy's worker
 * makes its own; the implementation bounds how many reach the engine at once); none of them
 * hangs: each rejects with CallTimeoutError past its deadline.
 */
export interface ContainerRuntime {
  /** list returns this node's managed containers, running or not. */
  list(node: string): Promise<ObservedContainer[]>
  /** states returns the state of the named containers (missing ones, and ones that did not answer in time, are skipped). */
  states(names: readonly string[]): Promise<ContainerState[]>
  /** pullImages applies the pull policy to every image of the plan; throws ImagePullError. */
  pullImages(plan: PodPlan): Promise<void>
  /** hasImages says whether every image of the plan is present locally (no registry is asked). */
  hasImages(plan: PodPlan): Promise<boolean>
  /**
   * startPod makes every container of the plan exist and run (idempotent: a twin made by
   * an earlier attempt is completed, not doubled). Images are ensured first. When none of
   * the pod's containers exists yet (the pod starts), its init containers run first, in
   * order, each to completion; `progress` hears `Init:I/N` as each begins. An init container
   * that fails throws InitContainerError.
   */
  startPod(plan: PodPlan, progress?: (status: string) => void): Promise<void>
  /**
   * refreshFiles rewrites the agent-written files of a started pod from the plan (a changed
   * ConfigMap reaches mounted files without a restart); a pod not started is left alone.
   */
  refreshFiles(plan: PodPlan): Promise<void>
  /** stopContainer stops a container (SIGTERM, SIGKILL after graceSeconds) and keeps it, to be started again; not running already is fine. */
  stopContainer(id: string, graceSeconds: number): Promise<void>
  /** remove stops a container (SIGTERM, SIGKILL after graceSeconds) and removes it; gone already is fine. */
  remove(id: string, graceSeconds: number): Promise<void>
  /** exec runs a command in a running container and resolves to its exit code; rejects after timeoutMs. */
  exec(name: string, cmd: readonly string[], timeoutMs: number): Promise<number>
  /** address returns the IP a probe reaches the container's pod on. */
  address(name: string): Promise<string | undefined>
  /** watch calls onChange (never concurrently) whenever a managed container changes; until stop. */
  watch(onChange: () => void): void
  stop(): void
}
