// The Docker runtime (dockerode), the production ContainerRuntime and the only file that
// knows Docker (with images.ts, docker-streams.ts and docker-events.ts). It lists this node's
// managed containers, pulls images by pull policy, creates and starts pods from core's
// PodPlan (idempotently: names are deterministic, so Docker refuses a twin) after their
// volumes (pod-volumes.ts, and the tmpfs volumes here), removes containers and, with a pod's
// last one, its volumes, runs probe commands, and follows events (docker-events.ts).
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
import { DockerImages } from './images.js'
import { PodVolumes } from './pod-volumes.js'
import { DockerEvents } from './docker-events.js'
import { DockerStreams } from './docker-streams.js'
import { ImagePullError, InitContainerError, NotFoundError, type ContainerRuntime, type ContainerState, type ContainerStreams, type ExecOptions, type LogOptions, type OutputChunk, type StartOptions } from './runtime.js'

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
    return all.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      daemonSet: c.Labels[Labels.daemonSet] ?? '',
      revision: c.Labels[Labels.revision] ?? '',
      container: c.Labels[Labels.container] ?? '',
      podOwner: c.Labels[Labels.podOwner] ?? (c.Names[0] ?? '').replace(/^\//, ''),
      running: c.State === 'running',
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

  /**
   * startPod makes every container of the plan exist and run: creates what is missing (a name
   * conflict means another reconcile made it: fine), starts what was created but never
   * started. Images are ensured unless `opts.pulled` (ImagePullError): init containers' and
   * `Always` ones first, the others when the create finds none (images.ts `creating`).
   */
  async startPod(plan: PodPlan, opts: StartOptions = {}): Promise<void> {
    const ensure = opts.pulled !== true
    if (ensure) for (const c of [...plan.init, ...plan.containers.filter((c) => c.pullPolicy === 'Always')]) await this.images.ensure(c.create.Image, c.pullPolicy, c.pullAuth)
    await this.prepareVolumes(plan)
    if (plan.init.length > 0 && !(await this.anyExists(plan))) await this.runInit(plan, opts.progress)
    for (const c of plan.containers) {
      const { name, ...body } = c.create
      const mounts = this.volumes.resolve(body.HostConfig.Mounts)
      const createOnce = (): Promise<Docker.Container> =>
        this.write(`create ${name}`, (abortSignal) => this.docker.createContainer({ name, ...body, HostConfig: { ...body.HostConfig, ...(mounts === undefined ? {} : { Mounts: mounts }) }, abortSignal } as Docker.ContainerCreateOptions))
      const create = (): Promise<Docker.Container> => (ensure && c.pullPolicy !== 'Always' ? this.images.creating(c.create.Image, c.pullPolicy, c.pullAuth, createOnce) : createOnce())
      const start = (container: Docker.Container): Promise<void> =>
        this.write(`start ${name}`, (abortSignal) => container.start({ abortSignal })).catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err
        })
      let container = this.docker.getContainer(name)
      let created = false
      try {
        container = await create()
        created = true
      } catch (err) {
        if (statusOf(err) !== 409) throw err
      }
      if (created) {
        await start(container)
        continue
      }
      // A twin made by an earlier attempt is started if it never was, or was stopped (a restart after a failed probe).
      if (!['created', 'exited'].includes((await this.read(`inspect ${name}`, (abortSignal) => container.inspect({ abortSignal }))).State.Status)) continue
      try {
        await start(container)
      } catch (err) {
        // A twin that will not start is replaced, as the kubelet makes a new container for each
        // attempt: one whose start was cut short by a dockerd shutting down can be left with a
        // containerd task of the same id, and its every start then fails ("task ...: already
        // exists") until it is removed.
        this.log.warn({ container: name, err: (err as Error).message }, 'a container of this pod would not start: replacing it')
        await this.forceRemove(name)
        await start(await create())
      }
    }
  }

  /** anyExists says whether a container of the pod exists already (a restart, or a start completed): init containers do not run again. */
  private async anyExists(plan: PodPlan): Promise<boolean> {
    const first = plan.containers[0]
    if (first === undefined) return false
    try {
      await this.read(`inspect ${first.create.name}`, (abortSignal) => this.docker.getContainer(first.create.name).inspect({ abortSignal }))
      return true
    } catch (err) {
      if (statusOf(err) === 404) return false
      throw err
    }
  }

  /**
   * runInit runs the pod's init containers in order, each to completion, on the pod's
   * volumes; each is removed once it exited (a failed one after its last lines were read
   * into the error: Init:Error shows why). Waiting for one to exit takes no place in the
   * limiter; it is bounded by initMs.
   */
  private async runInit(plan: PodPlan, progress?: (status: string) => void): Promise<void> {
    for (const [i, c] of plan.init.entries()) {
      progress?.(`Init:${i}/${plan.init.length}`)
      const { name, ...body } = c.create
      await this.forceRemove(name)
      const mounts = this.volumes.resolve(body.HostConfig.Mounts)
      const container = await this.write(`create ${name}`, (abortSignal) => this.docker.createContainer({ name, ...body, HostConfig: { ...body.HostConfig, ...(mounts === undefined ? {} : { Mounts: mounts }) }, abortSignal } as Docker.ContainerCreateOptions))
      let code: number
      try {
        await this.write(`start ${name}`, (abortSignal) => container.start({ abortSignal }))
        const res = (await withDeadline(`init container ${c.name} (did not exit)`, this.t.initMs, (abortSignal) => container.wait({ abortSignal }))) as { StatusCode?: number }
        code = res.StatusCode ?? -1
      } catch (err) {
        await this.forceRemove(name)
        throw new InitContainerError(`init container ${c.name}: ${(err as Error).message}`)
      }
      if (code !== 0) {
        const tail = await this.lastLines(name)
        await this.forceRemove(name)
        throw new InitContainerError(`init container ${c.name} exited with ${code}${tail === '' ? '' : `: ${tail}`}`)
      }
      await this.forceRemove(name)
    }
  }

  /** lastLines returns a stopped container's last output lines, joined and bounded ('' when none). */
  private async lastLines(name: string): Promise<string> {
    try {
      const buf = (await this.read(`logs ${name}`, (abortSignal) => this.docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 3, follow: false, abortSignal }))) as unknown as Buffer
      // Without a TTY the stream is multiplexed: an 8-byte header before each frame.
      const lines: string[] = []
      for (let i = 0; i + 8 <= buf.length; ) {
        const len = buf.readUInt32BE(i + 4)
        lines.push(buf.subarray(i + 8, i + 8 + len).toString())
        i += 8 + len
      }
      return lines.join('').trim().replace(/\s+/g, ' ').slice(0, 300)
    } catch {
      return ''
    }
  }

  /** forceRemove removes a container, running or not; gone already is fine. */
  private async forceRemove(name: string): Promise<void> {
    await this.write(`remove ${name}`, (abortSignal) => this.docker.getContainer(name).remove({ force: true, abortSignal })).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err
    })
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

  /**
   * prepareVolumes makes the pod's volumes before its containers: the host side
   * (pod-volumes.ts: hostPath checks, emptyDir directories, written files; a MountError
   * stops the start) and one Docker tmpfs volume per `medium: Memory` emptyDir, which every
   * container of the pod mounts, sized by sizeLimit when set.
   */
  private async prepareVolumes(plan: PodPlan): Promise<void> {
    await this.volumes.prepare(plan)
    for (const v of plan.volumes) {
      if (v.kind !== 'tmpfs') continue
      const o = ['mode=0777', ...(v.sizeBytes === undefined ? [] : [`size=${v.sizeBytes}`])].join(',')
      const labels = { [Labels.daemonSet]: plan.daemonSet, [Labels.node]: plan.node, [Labels.revision]: plan.revision, [Labels.pod]: plan.pod }
      await this.write(`volume create ${v.volume}`, (abortSignal) => this.docker.createVolume({ Name: v.volume, Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o }, Labels: labels, abortSignal }))
    }
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
