// Making a pod exist and run on Docker (docker.ts's part for startPod and preparePod): its
// volumes, its init containers in order, each to completion, then its containers, created
// and started idempotently (names are deterministic, so Docker refuses a twin, and a twin an
// earlier attempt made is completed). An update's pod can be created ahead, before its slot
// (preparePod), and only started under it.

import Docker from 'dockerode'
import type { Logger } from 'pino'
import { Labels, type DockerCreate, type PodPlan } from '../../core/container-spec.js'
import type { Timings } from '../defaults.js'
import type { DockerImages } from './images.js'
import { withDeadline, type EngineCall } from './limiter.js'
import type { PodVolumes } from './pod-volumes.js'
import { InitContainerError, type StartOptions } from './runtime.js'

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode

export class PodStarter {
  /** Containers preparePod created and no start has started yet, by name: a start goes to Docker at once. */
  private readonly ahead = new Set<string>()

  constructor(
    private readonly docker: Docker,
    private readonly images: DockerImages,
    private readonly volumes: PodVolumes,
    private readonly t: Timings['runtime'],
    private readonly log: Logger,
    /** read and write run an engine call under the runtime's limiter and the read or write deadline. */
    private readonly read: EngineCall,
    private readonly write: EngineCall,
  ) {}

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
      const name = c.create.name
      const createOnce = (): Promise<Docker.Container> => this.create(c.create)
      const create = (): Promise<Docker.Container> => (ensure && c.pullPolicy !== 'Always' ? this.images.creating(c.create.Image, c.pullPolicy, c.pullAuth, createOnce) : createOnce())
      const start = (container: Docker.Container): Promise<void> =>
        this.write(`start ${name}`, (abortSignal) => container.start({ abortSignal })).catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err
        })
      const container = this.docker.getContainer(name)
      // A twin that will not start is replaced, as the kubelet makes a new container for each
      // attempt: one whose start was cut short by a dockerd shutting down can be left with a
      // containerd task of the same id, and its every start then fails ("task ...: already
      // exists") until it is removed.
      const replace = async (err: unknown): Promise<void> => {
        this.log.warn({ container: name, err: (err as Error).message }, 'a container of this pod would not start: replacing it')
        await this.forceRemove(name)
        await start(await create())
      }
      if (this.ahead.delete(name)) {
        // Created ahead (preparePod): started at once; made now only if it is gone.
        try {
          await start(container)
          continue
        } catch (err) {
          if (statusOf(err) !== 404) {
            await replace(err)
            continue
          }
        }
      }
      let made: Docker.Container | undefined
      try {
        made = await create()
      } catch (err) {
        if (statusOf(err) !== 409) throw err
      }
      if (made !== undefined) {
        await start(made)
        continue
      }
      // A twin made by an earlier attempt is started if it never was, or was stopped (a restart after a failed probe).
      if (!['created', 'exited'].includes((await this.read(`inspect ${name}`, (abortSignal) => container.inspect({ abortSignal }))).State.Status)) continue
      await start(container).catch(replace)
    }
  }

  /**
   * preparePod creates the plan's containers and volumes without starting anything, so that
   * an update's startPod only starts them: Docker's create is made before the old copy
   * stops, not while the host has none. A container that exists already is left as
   * it is. A pod with init containers is not prepared (they run, to completion, before its
   * containers are created): false. A create that fails (an image not here: Docker's 404)
   * throws; the update then creates what is missing.
   */
  async preparePod(plan: PodPlan): Promise<boolean> {
    if (plan.init.length > 0) return false
    await this.prepareVolumes(plan)
    for (const c of plan.containers) {
      try {
        await this.create(c.create)
        this.ahead.add(c.create.name)
      } catch (err) {
        if (statusOf(err) !== 409) throw err
      }
    }
    return true
  }

  /** forgetGone forgets the containers created ahead that are no longer there (`listed`: the names Docker lists now). */
  forgetGone(listed: ReadonlySet<string>): void {
    for (const name of this.ahead) if (!listed.has(name)) this.ahead.delete(name)
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
      const name = c.create.name
      await this.forceRemove(name)
      const container = await this.create(c.create)
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

  /** create makes one container of the plan, its pod's volumes resolved to where they live on the host. */
  private create(spec: DockerCreate): Promise<Docker.Container> {
    const { name, ...body } = spec
    const mounts = this.volumes.resolve(body.HostConfig.Mounts)
    return this.write(`create ${name}`, (abortSignal) => this.docker.createContainer({ name, ...body, HostConfig: { ...body.HostConfig, ...(mounts === undefined ? {} : { Mounts: mounts }) }, abortSignal } as Docker.ContainerCreateOptions))
  }

  /** forceRemove removes a container, running or not; gone already is fine. */
  private async forceRemove(name: string): Promise<void> {
    await this.write(`remove ${name}`, (abortSignal) => this.docker.getContainer(name).remove({ force: true, abortSignal })).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw err
    })
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
}
