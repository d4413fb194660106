// The Docker runtime (dockerode), the production ContainerRuntime and the only file that
// knows Docker (with images.ts, pod-start.ts, docker-streams.ts and docker-events.ts). It
// lists this node's managed containers, pulls images by pull policy, creates and starts pods
// from core's PodPlan (pod-start.ts: idempotently, after their volumes), removes containers
// and, with a pod's last one, its volumes, runs probe commands, and follows events
// (docker-events.ts).
//
// Every call has a deadline (timings.runtime) and is aborted past it (CallTimeoutError), so
// a call that never returns stalls only the copy that made it. Calls that make the engine
// work (list, inspect, pull, create, start, remove, an exec's setup) take a place in a
// limiter of `concurrency`; calls that only wait (a stop waiting out its grace period, a
// probe command running, the event stream) take none, so N copies stopping at once take one
// grace period, not N.

import { performance } from 'node:perf_hooks'
import Docker from 'dockerode'
import type { Logger } from 'pino'
import { Labels, type PodPlan } from '../../core/container-spec.js'
import type { ObservedContainer } from '../../core/reconcile.js'
import type { Timings } from '../defaults.js'
import { CallTimeoutError, Limiter, withDeadline } from './limiter.js'
import { PodStarter } from './pod-start.js'
import { DockerImages } from './images.js'
import { PodVolumes } from './pod-volumes.js'
import { DockerEvents } from './docker-events.js'
import { DockerStreams } from './docker-streams.js'
import { ImagePullError, NotFoundError, type ContainerRuntime, type ContainerState, type ContainerStreams, type ExecOptions, type LogOptions, type OutputChunk, type StartOptions } from './runtime.js'

export interface DockerRuntimeOptions {
  /** Calls that make the engine work, at most this many at once (config dockerConcurrency). */
  concurrency: number
  timings: Timings['runtime']
  /** Where pods' emptyDirs and agent-written files live (DATADIR/pods). */
  podsDir: string
  /** Where the files of pods' Secrets live: a tmpfs (config secretsDir). */
  secretsDir: string
}

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode

export class DockerRuntime implements ContainerRuntime, ContainerStreams {
  private readonly docker: Docker
  private readonly log: Logger
  private readonly volumes: PodVolumes
  private readonly limiter: Limiter
  private readonly t: Timings['runtime']
  private readonly images: DockerImages
  private readonly streams: DockerStreams
  private readonly events: DockerEvents
  private readonly pods: PodStarter
  /** The pod (label) of each container the last list returned, by id: a removal need not inspect first. */
  private podsById = new Map<string, string | undefined>()

  /** address: `unix:///PATH` (default /var/run/docker.sock). */
  constructor(address: string, log: Logger, opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: address.replace(/^unix:\/\//, '') })
    this.log = log
    this.volumes = new PodVolumes(opts.podsDir, opts.secretsDir)
    this.limiter = new Limiter(opts.concurrency)
    this.t = opts.timings
    this.images = new DockerImages(this.docker, this.limiter, this.t, (what, fn) => this.read(what, fn))
    this.events = new DockerEvents(this.docker, this.t.readMs)
    this.pods = new PodStarter(this.docker, this.images, this.volumes, this.t, log, (what, fn) => this.read(what, fn), (what, fn) => this.write(what, fn))
    this.streams = new DockerStreams(this.docker, (what, fn) => this.read(what, fn), (what, fn) => this.write(what, fn), log)
  }

  /** read runs a reading call: a place in the limiter, the read deadline. */
  private read<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.call(what, this.t.readMs, fn)
  }

  /** write runs a changing call: a place in the limiter, the write deadline. */
  private write<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.call(what, this.t.writeMs, fn)
  }

  /** call runs one engine call under the limiter and its deadline; at debug level it logs how long it waited for a place and took. */
  private async call<T>(what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!this.log.isLevelEnabled('debug')) return this.limiter.run(() => withDeadline(`docker ${what}`, ms, fn))
    const asked = performance.now()
    let began = asked
    let failed = true
    try {
      const out = await this.limiter.run(() => {
        began = performance.now()
        return withDeadline(`docker ${what}`, ms, fn)
      })
      failed = false
      return out
    } finally {
      const done = performance.now()
      this.log.debug({ call: what, queuedMs: Math.round(began - asked), tookMs: Math.round(done - began), failed }, 'docker call')
    }
  }

  /** list returns this node's managed containers, running or not. */
  async list(node: string): Promise<ObservedContainer[]> {
    const all = await this.read('list', (abortSignal) => this.docker.listContainers({ all: true, filters: { label: [`${Labels.node}=${node}`, Labels.daemonSet] }, abortSignal }))
    this.podsById = new Map(all.map((c) => [c.Id, c.Labels[Labels.pod]]))
    this.pods.forgetGone(new Set(all.map((c) => (c.Names[0] ?? '').replace(/^\//, ''))))
    return all.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      daemonSet: c.Labels[Labels.daemonSet] ?? '',
      revision: c.Labels[Labels.revision] ?? '',
      container: c.Labels[Labels.container] ?? '',
      podOwner: c.Labels[Labels.podOwner] ?? (c.Names[0] ?? '').replace(/^\//, ''),
      running: c.State === 'running',
      ...(c.State === 'created' ? { neverStarted: true } : {}),
      createdAt: c.Created * 1000,
      labels: Object.fromEntries(Object.entries(c.Labels).filter(([k]) => !k.startsWith('daemonmesh.io/'))),
      ...(c.Labels[Labels.readiness] === undefined ? {} : { readiness: c.Labels[Labels.readiness] }),
      ...(c.Labels[Labels.liveness] === undefined ? {} : { liveness: c.Labels[Labels.liveness] }),
      ...(c.Labels[Labels.startup] === undefined ? {} : { startup: c.Labels[Labels.startup] }),
      ...(c.Labels[Labels.hooks] === undefined ? {} : { hooks: c.Labels[Labels.hooks] }),
    }))
  }

  /** states inspects the named containers, side by side (missing ones, and ones that did not answer in time, are skipped). */
  async states(names: readonly string[]): Promise<ContainerState[]> {
    const one = async (name: string): Promise<ContainerState | undefined> => {
      try {
        const i = await this.read(`inspect ${name}`, (abortSignal) => this.docker.getContainer(name).inspect({ abortSignal }))
        return {
          name,
          status: i.State.Status,
          running: i.State.Running,
          restarts: i.RestartCount,
          startedAt: Date.parse(i.State.StartedAt) || 0,
          exitCode: i.State.ExitCode,
          error: i.State.Error,
          stopTimeout: (i.Config as { StopTimeout?: number }).StopTimeout ?? 10,
        }
      } catch (err) {
        if (statusOf(err) === 404) return undefined
        if ((err as Error).name !== 'CallTimeoutError') throw err
        this.log.warn({ container: name, err: (err as Error).message }, 'inspect did not answer: state not reported')
        return undefined
      }
    }
    return (await Promise.all(names.map(one))).filter((s) => s !== undefined)
  }

  /** pullImages applies the pull policy to every image of the plan (before an update takes a slot). */
  async pullImages(plan: PodPlan): Promise<void> {
    for (const c of [...plan.init, ...plan.containers]) await this.images.ensure(c.create.Image, c.pullPolicy, c.pullAuth)
  }

  /** hasImages says whether every image of the plan is present locally. */
  async hasImages(plan: PodPlan): Promise<boolean> {
    for (const c of [...plan.init, ...plan.containers]) if (!(await this.images.has(c.create.Image))) return false
    return true
  }

  /** exec runs a command in a running container and returns its exit code; rejects after timeoutMs. */
  async exec(name: string, cmd: readonly string[], timeoutMs: number): Promise<number> {
    const exec = await this.write(`exec create in ${name}`, (abortSignal) => this.docker.getContainer(name).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true, abortSignal }))
    const stream = await this.write(`exec start in ${name}`, (abortSignal) => exec.start({ hijack: true, stdin: false, abortSignal }))
    stream.resume()
    // Running the command is waiting, not engine work: no place in the limiter.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy()
        reject(new CallTimeoutError(`timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      stream.on('end', () => {
        clearTimeout(timer)
        resolve()
      })
      stream.on('close', () => {
        clearTimeout(timer)
        resolve()
      })
      stream.on('error', (err: Error) => {
        clearTimeout(timer)
        reject(err)
      })
    })
    const info = await this.read(`exec inspect in ${name}`, (abortSignal) => exec.inspect({ abortSignal }))
    return info.ExitCode ?? -1
  }

  /** logs streams a container's log (docker-streams.ts). */
  logs(name: string, opts: LogOptions, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    return this.streams.logs(name, opts, signal)
  }

  /** execAttached runs a command with stdin and output attached (docker-streams.ts). */
  execAttached(name: string, cmd: readonly string[], opts: ExecOptions, onOutput: (chunk: OutputChunk) => Promise<void>, signal: AbortSignal): Promise<number> {
    return this.streams.execAttached(name, cmd, opts, onOutput, signal)
  }

  /** address returns the IP a probe reaches the container on: 127.0.0.1 with host networking. */
  async address(name: string): Promise<string | undefined> {
    const i = await this.read(`inspect ${name}`, (abortSignal) => this.docker.getContainer(name).inspect({ abortSignal }))
    if (i.HostConfig.NetworkMode === 'host') return '127.0.0.1'
    const mode = i.HostConfig.NetworkMode ?? ''
    if (mode.startsWith('container:')) return this.address(mode.slice('container:'.length))
    const ips = [(i.NetworkSettings as { IPAddress?: string }).IPAddress, ...Object.values(i.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress)].filter((ip) => ip !== undefined && ip !== '')
    return ips[0]
  }

  /** startPod makes the plan's pod exist and run (pod-start.ts). */
  startPod(plan: PodPlan, opts: StartOptions = {}): Promise<void> {
    return this.pods.startPod(plan, opts)
  }

  /** preparePod creates the plan's pod without starting it (pod-start.ts). */
  preparePod(plan: PodPlan): Promise<boolean> {
    return this.pods.preparePod(plan)
  }

  /** refreshFiles rewrites the written files of a started pod (pod-volumes.ts). */
  async refreshFiles(plan: PodPlan): Promise<void> {
    await this.volumes.refresh(plan)
  }

  /** stopContainer stops a container within the grace (Docker's stop: the restart policy does not bring it back) and keeps it. */
  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    try {
      await withDeadline(`docker stop ${id.slice(0, 12)}`, graceSeconds * 1000 + this.t.stopMarginMs, (abortSignal) => this.docker.getContainer(id).stop({ t: graceSeconds, abortSignal }))
    } catch (err) {
      // 304: not running.
      if (statusOf(err) !== 304) throw err
    }
  }

  /**
   * remove stops a container (its stop signal, SIGKILL after graceSeconds; Docker's stop, so
   * the restart policy does not bring it back) and removes it; gone already is fine. The stop
   * waits without a place in the limiter, within the grace plus stopMarginMs. With the pod's
   * last container go its volumes (its pod as the last list said, else as an inspect says).
   */
  async remove(id: string, graceSeconds: number): Promise<void> {
    const c = this.docker.getContainer(id)
    const pod = this.podsById.has(id) ? this.podsById.get(id) : await this.podOf(id)
    try {
      await withDeadline(`docker stop ${id.slice(0, 12)}`, graceSeconds * 1000 + this.t.stopMarginMs, (abortSignal) => c.stop({ t: graceSeconds, abortSignal }))
    } catch (err) {
      if (statusOf(err) === 404) return
      // 304: not running.
      if (statusOf(err) !== 304) throw err
    }
    try {
      await this.write(`remove ${id.slice(0, 12)}`, (abortSignal) => c.remove({ force: true, v: false, abortSignal }))
    } catch (err) {
      if (statusOf(err) !== 404) throw err
    }
    if (pod !== undefined) await this.releaseVolumes(pod)
  }

  /** watch calls onChange for every event of a managed container (probe execs aside); reconnects until stop(). */
  watch(node: string, onChange: () => void): void {
    this.events.watch(node, onChange)
  }

  stop(): void {
    this.events.stop()
  }

  /** podOf returns the pod a managed container belongs to (its pod label), or undefined (gone, or made before pods had volumes of their own). */
  private async podOf(id: string): Promise<string | undefined> {
    try {
      return (await this.read(`inspect ${id.slice(0, 12)}`, (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal }))).Config.Labels[Labels.pod]
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined
      throw err
    }
  }

  /** releaseVolumes removes a pod's volumes once none of its containers is left: its directory and its Docker volumes. */
  private async releaseVolumes(pod: string): Promise<void> {
    const left = await this.read('ps', (abortSignal) => this.docker.listContainers({ all: true, filters: { label: [`${Labels.pod}=${pod}`] }, abortSignal }))
    if (left.length > 0) return
    await this.volumes.release(pod)
    const { Volumes } = await this.read('volume ls', (abortSignal) => this.docker.listVolumes({ filters: { label: [`${Labels.pod}=${pod}`] }, abortSignal }))
    for (const v of Volumes ?? []) {
      await this.write(`volume rm ${v.Name}`, (abortSignal) => this.docker.getVolume(v.Name).remove({ abortSignal })).catch((err: unknown) => this.log.warn({ err, volume: v.Name }, 'removing a pod volume failed'))
    }
  }
}
