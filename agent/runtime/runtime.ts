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

/** How startPod goes about one start. */
export interface StartOptions {
  /** Hears `Init:I/N` as each init container begins. */
  progress?: (status: string) => void
  /**
   * The caller pulled the plan's images for this revision and found them present just now
   * (an update under a slot, its old copy already stopped): no pull, whatever the policy.
   * A pull there would keep the host without a copy for a registry's round trip, or for good
   * while the registry is unreachable, which pulling before the slot exists to prevent.
   */
  pulled?: boolean
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
   * an earlier attempt is completed, not doubled). Images are ensured (the pull policy)
   * unless `pulled`: an image that is here is not looked for before its create. When none
   * of the pod's containers exists yet (the pod starts), its init containers run first, in
   * order, each to completion; `progress` hears `Init:I/N` as each begins. An init
   * container that fails throws InitContainerError.
   */
  startPod(plan: PodPlan, opts?: StartOptions): Promise<void>
  /**
   * preparePod creates the plan's containers (and its pod's volumes) without starting any:
   * a later startPod of the plan starts them at once, with no create. Its images must be
   * here. A pod with init containers is not prepared: false.
   */
  preparePod(plan: PodPlan): Promise<boolean>
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
  /** watch calls onChange (never concurrently) whenever a managed container of this node changes; until stop. */
  watch(node: string, onChange: () => void): void
  stop(): void
}

/** OutputChunk is a piece of a container's output: its stream and bytes. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr'
  data: Uint8Array
}

/** LogOptions select what `logs` reads, as `docker logs` / `kubectl logs` do. */
export interface LogOptions {
  /** Keep reading new lines until the signal aborts. */
  follow: boolean
  /** Only the last N lines (before following). */
  tail?: number
  /** Only lines from the last N seconds. */
  sinceSeconds?: number
  /** The lines of the container's previous run (before its last restart); NotFoundError when it never restarted. */
  previous: boolean
  /** Prefix each line with its RFC 3339 time. */
  timestamps: boolean
}

/** ExecOptions of an attached command. */
export interface ExecOptions {
  /** Bytes for the command's stdin; its end closes stdin. Absent: no stdin. */
  stdin?: AsyncIterable<Uint8Array>
  /** Run under a pseudo-terminal (output then arrives as stdout only). */
  tty: boolean
}

/** NotFoundError is thrown when the container, or what was asked of it, does not exist; callers branch on `name`. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError'
}

/**
 * ContainerStreams is the operator's view into running containers (`daemonmesh logs` and
 * `exec`), beside ContainerRuntime: long-running streams, each ended by its signal, none
 * holding a place among the engine calls the reconciler makes.
 */
export interface ContainerStreams {
  /** logs yields the container's output; ends at the log's end (not following) or when `signal` aborts. */
  logs(name: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<OutputChunk>
  /**
   * execAttached runs `cmd` in the running container, hands its output to `onOutput` (awaited:
   * a slow reader slows the command's output) and resolves to its exit code; `signal` aborts
   * it (the command may keep running in the container; Docker offers no kill of an exec).
   */
  execAttached(name: string, cmd: readonly string[], opts: ExecOptions, onOutput: (chunk: OutputChunk) => Promise<void>, signal: AbortSignal): Promise<number>
}
