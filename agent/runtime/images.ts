// Images for the Docker runtime: the pull policy as kubelet applies it, pulls with
// imagePullSecrets' credentials, and no work twice: concurrent pulls of one image (with the
// same credentials) are one pull, and concurrent checks of one image one check.

import { createHash } from 'node:crypto'
import type Docker from 'dockerode'
import type { PullAuth } from '../../core/registry-auth.js'
import type { Timings } from '../defaults.js'
import { Limiter, withDeadline, type EngineCall } from './limiter.js'
import { ImagePullError } from './runtime.js'

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode

/** Reader runs a reading Docker call under the runtime's limiter and read deadline. */
type Reader = EngineCall

/** DockerImages checks and pulls images for one DockerRuntime. */
export class DockerImages {
  /** Pulls in flight, per image and credentials: a second caller waits for the first pull. */
  private readonly pulls = new Map<string, Promise<void>>()
  /** Local image checks in flight, per image: thirty copies starting from one image ask Docker once. */
  private readonly checks = new Map<string, Promise<boolean>>()

  constructor(
    private readonly docker: Docker,
    private readonly limiter: Limiter,
    private readonly t: Timings['runtime'],
    private readonly read: Reader,
  ) {}

  /** hasImage says whether an image is here; a check of the same image already under way is joined. */
  has(image: string): Promise<boolean> {
    let p = this.checks.get(image)
    if (p === undefined) {
      p = this.read(`inspect image ${image}`, () => this.docker.getImage(image).inspect())
        .then(
          () => true,
          (err: unknown) => {
            if (statusOf(err) === 404) return false
            throw err
          },
        )
        .finally(() => this.checks.delete(image))
      this.checks.set(image, p)
    }
    return p
  }

  /**
   * pull pulls an image with the given credentials; a pull of the same image with the same
   * credentials already under way is joined, not repeated (with other credentials it is
   * not: a pull that fails for a wrong password must not answer for the right one).
   */
  private pull(image: string, auth: PullAuth | undefined): Promise<void> {
    const key = auth === undefined ? image : `${image}\n${createHash('sha256').update(JSON.stringify(auth)).digest('hex')}`
    let p = this.pulls.get(key)
    if (p === undefined) {
      p = this.limiter.run(() => this.pullOnce(image, auth)).finally(() => this.pulls.delete(key))
      this.pulls.set(key, p)
    }
    return p
  }

  /** pullOnce pulls, abandoning a pull that makes no progress for pullStallMs. Credentials go to Docker only (never logged). */
  private pullOnce(image: string, auth: PullAuth | undefined): Promise<void> {
    return withDeadline(`docker pull ${image} (no progress)`, this.t.pullStallMs, async (abortSignal, progressed) => {
      const stream = await this.docker.pull(image, { abortSignal, ...(auth === undefined ? {} : { authconfig: auth }) })
      abortSignal.addEventListener('abort', () => (stream as unknown as { destroy?: () => void }).destroy?.())
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null) => (err === null ? resolve() : reject(err)), () => progressed()),
      )
    })
  }

  /**
   * ensureImage applies the pull policy as kubelet does: Always pulls (and a failed pull is
   * ErrImagePull even when an older image is here: it is never run in its place),
   * IfNotPresent pulls when missing, Never requires it.
   */
  async ensure(image: string, policy: 'Always' | 'IfNotPresent' | 'Never', auth?: PullAuth): Promise<void> {
    if (policy !== 'Always') {
      const present = await this.has(image)
      if (policy === 'Never') {
        if (!present) throw new ImagePullError(`image ${image} is not present and imagePullPolicy is Never`)
        return
      }
      if (present) return
    }
    try {
      await this.pull(image, auth)
    } catch (err) {
      throw new ImagePullError(`pulling ${image}${auth === undefined ? '' : ` (with the credentials of imagePullSecrets for ${auth.serveraddress})`}: ${(err as Error).message}`)
    }
  }

  /**
   * creating runs `create` and, when Docker answers 404 (the image is not here), applies the
   * pull policy (IfNotPresent pulls, Never refuses) and runs it once more. Another thing the
   * create names that is missing fails it the same way again, after the image was found here.
   */
  async creating<T>(image: string, policy: 'IfNotPresent' | 'Never', auth: PullAuth | undefined, create: () => Promise<T>): Promise<T> {
    try {
      return await create()
    } catch (err) {
      if (statusOf(err) !== 404) throw err
      await this.ensure(image, policy, auth)
      return create()
    }
  }
}
