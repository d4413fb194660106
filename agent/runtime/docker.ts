// The Docker runtime (dockerode), the production ContainerRuntime and the only file that
// knows Docker. It lists this node's managed containers, pulls images by pull policy,
// creates and starts pods from core's PodPlan (idempotently: names are deterministic, so
// Docker refuses a twin) after their volumes (pod-volumes.ts, and the tmpfs volumes here),
// removes containers and, with a pod's last one, its volumes, runs probe commands, and
// follows events.

import Docker from 'dockerode'
import type { Logger } from 'pino'
import { Labels, type PodPlan } from '../../core/container-spec.js'
import type { ObservedContainer } from '../../core/reconcile.js'
import { PodVolumes } from './pod-volumes.js'
import { ImagePullError, type ContainerRuntime, type ContainerState } from './runtime.js'

export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker
  private readonly log: Logger
  private readonly volumes: PodVolumes
  private events: NodeJS.ReadableStream | undefined
  private watching = false

  /** address: `unix:///PATH` (default /var/run/docker.sock); podsDir: where pods' emptyDirs and written files live (DATADIR/pods). */
  constructor(address: string, log: Logger, podsDir: string) {
    this.docker = new Docker({ socketPath: address.replace(/^unix:\/\//, '') })
    this.log = log
    this.volumes = new PodVolumes(podsDir)
  }

  /** list returns this node's managed containers, running or not. */
  async list(node: string): Promise<ObservedContainer[]> {
    const all = await this.docker.listContainers({ all: true, filters: { label: [`${Labels.node}=${node}`, Labels.daemonSet] } })
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
    }))
  }

  /** states inspects the named containers (missing ones are skipped). */
  async states(names: readonly string[]): Promise<ContainerState[]> {
    const out: ContainerState[] = []
    for (const name of names) {
      try {
        const i = await this.docker.getContainer(name).inspect()
        out.push({
          name,
          status: i.State.Status,
          running: i.State.Running,
          restarts: i.RestartCount,
          startedAt: Date.parse(i.State.StartedAt) || 0,
          exitCode: i.State.ExitCode,
          error: i.State.Error,
        })
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err
      }
    }
    return out
  }

  private async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect()
      return true
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false
      throw err
    }
  }

  /** ensureImage applies the pull policy: Always pulls, IfNotPresent pulls when missing, Never requires it. */
  async ensureImage(image: string, policy: 'Always' | 'IfNotPresent' | 'Never'): Promise<void> {
    const present = await this.hasImage(image)
    if (policy === 'Never') {
      if (!present) throw new ImagePullError(`image ${image} is not present and imagePullPolicy is Never`)
      return
    }
    if (policy === 'IfNotPresent' && present) return
    try {
      const stream = await this.docker.pull(image)
      await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (err: Error | null) => (err === null ? resolve() : reject(err))))
    } catch (err) {
      // A registry we cannot reach: with an image already here, Always falls back to it.
      if (present) {
        this.log.warn({ image, err: (err as Error).message }, 'pull failed; using the local image')
        return
      }
      throw new ImagePullError(`pulling ${image}: ${(err as Error).message}`)
    }
  }

  /** pullImages applies the pull policy to every image of the plan (before an update takes a slot). */
  async pullImages(plan: PodPlan): Promise<void> {
    for (const c of plan.containers) await this.ensureImage(c.create.Image, c.pullPolicy)
  }

  /** hasImages says whether every image of the plan is present locally. */
  async hasImages(plan: PodPlan): Promise<boolean> {
    for (const c of plan.containers) if (!(await this.hasImage(c.create.Image))) return false
    return true
  }

  /** exec runs a command in a running container and returns its exit code; rejects after timeoutMs. */
  async exec(name: string, cmd: readonly string[], timeoutMs: number): Promise<number> {
    const exec = await this.docker.getContainer(name).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true })
    const stream = await exec.start({ hijack: true, stdin: false })
    stream.resume()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.destroy()
        reject(new Error(`timed out after ${timeoutMs} ms`))
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
    const info = await exec.inspect()
    return info.ExitCode ?? -1
  }

  /** address returns the IP a probe reaches the container on: 127.0.0.1 with host networking. */
  async address(name: string): Promise<string | undefined> {
    const i = await this.docker.getContainer(name).inspect()
    if (i.HostConfig.NetworkMode === 'host') return '127.0.0.1'
    const mode = i.HostConfig.NetworkMode ?? ''
    if (mode.startsWith('container:')) return this.address(mode.slice('container:'.length))
    const ips = [(i.NetworkSettings as { IPAddress?: string }).IPAddress, ...Object.values(i.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress)].filter((ip) => ip !== undefined && ip !== '')
    return ips[0]
  }

  /**
   * startPod makes every container of the plan exist and run: creates what is missing
   * (a name conflict means another reconcile made it: fine), starts what was created but
   * never started. Images are ensured first; a pull failure throws ImagePullError.
   */
  async startPod(plan: PodPlan): Promise<void> {
    for (const c of plan.containers) await this.ensureImage(c.create.Image, c.pullPolicy)
    await this.prepareVolumes(plan)
    for (const c of plan.containers) {
      const { name, ...body } = c.create
      const mounts = this.volumes.resolve(body.HostConfig.Mounts)
      let container = this.docker.getContainer(name)
      try {
        container = await this.docker.createContainer({ name, ...body, HostConfig: { ...body.HostConfig, ...(mounts === undefined ? {} : { Mounts: mounts }) } } as Docker.ContainerCreateOptions)
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err
      }
      const info = await container.inspect()
      if (info.State.Status === 'created') {
        await container.start().catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 304) throw err
        })
      }
    }
  }

  /** refreshFiles rewrites the written files of a started pod (pod-volumes.ts). */
  async refreshFiles(plan: PodPlan): Promise<void> {
    await this.volumes.refresh(plan)
  }

  /** remove stops (with the container's stop timeout) and removes a container; gone already is fine. With the pod's last container go its volumes. */
  async remove(id: string): Promise<void> {
    const pod = await this.podOf(id)
    try {
      await this.docker.getContainer(id).remove({ force: false, v: false }).catch(async (err: unknown) => {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err
        await this.docker.getContainer(id).stop().catch(() => undefined)
        await this.docker.getContainer(id).remove({ force: true })
      })
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err
    }
    if (pod !== undefined) await this.releaseVolumes(pod)
  }

  /** watch calls onChange for every event of a managed container (probe execs aside); reconnects until stop(). */
  watch(onChange: () => void): void {
    this.watching = true
    const connect = (): void => {
      if (!this.watching) return
      this.docker
        .getEvents({ filters: { type: ['container'], label: [Labels.daemonSet] } })
        .then((stream) => {
          this.events = stream
          // Probe execs (exec_create/start/die) are events too: they change nothing we manage.
          stream.on('data', (chunk: Buffer) => {
            const actions = [...chunk.toString().matchAll(/"Action":"([^"]*)"/g)].map((m) => m[1] ?? '')
            if (actions.length === 0 || actions.some((a) => !a.startsWith('exec_'))) onChange()
          })
          stream.on('error', () => undefined)
          stream.on('end', () => {
            if (this.events === stream) setTimeout(connect, 1000)
          })
        })
        .catch(() => setTimeout(connect, 2000))
    }
    connect()
  }

  stop(): void {
    this.watching = false
    const s = this.events
    this.events = undefined
    ;(s as unknown as { destroy?: () => void } | undefined)?.destroy?.()
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
      await this.docker.createVolume({ Name: v.volume, Driver: 'local', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o }, Labels: labels })
    }
  }

  /** podOf returns the pod a managed container belongs to (its pod label), or undefined (gone, or made before pods had volumes of their own). */
  private async podOf(id: string): Promise<string | undefined> {
    try {
      return (await this.docker.getContainer(id).inspect()).Config.Labels[Labels.pod]
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined
      throw err
    }
  }

  /** releaseVolumes removes a pod's volumes once none of its containers is left: its directory and its Docker volumes. */
  private async releaseVolumes(pod: string): Promise<void> {
    const left = await this.docker.listContainers({ all: true, filters: { label: [`${Labels.pod}=${pod}`] } })
    if (left.length > 0) return
    await this.volumes.release(pod)
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [`${Labels.pod}=${pod}`] } })
    for (const v of Volumes ?? []) {
      await this.docker.getVolume(v.Name).remove().catch((err: unknown) => this.log.warn({ err, volume: v.Name }, 'removing a pod volume failed'))
    }
  }
}
