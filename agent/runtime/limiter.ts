// Bounds on the calls made to the container engine: a limiter that lets at most N calls do
// work at once (the rest wait their turn, first come first served), and a deadline that
// aborts a call which does not answer in time. Used by docker.ts; nothing here knows Docker.

/** CallTimeoutError is thrown when an engine call did not answer within its deadline; callers branch on `name`. */
export class CallTimeoutError extends Error {
  override readonly name = 'CallTimeoutError'
}

/** EngineCall runs one engine call under a limiter's place and a deadline (its signal aborts the call past it). */
export type EngineCall = <T>(what: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>

/** Limiter lets at most `limit` holders in at once; the others queue in arrival order. */
export class Limiter {
  private readonly limit: number
  private active = 0
  private readonly queue: (() => void)[] = []

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`)
    this.limit = limit
  }

  /** inUse is how many holders are in; waiting is how many queue. */
  get inUse(): number {
    return this.active
  }

  get waiting(): number {
    return this.queue.length
  }

  /** run waits for a place, runs fn and gives the place back however fn ends. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve))
    else this.active++
    try {
      return await fn()
    } finally {
      // The place passes straight to the next in line, so `active` never dips and a newcomer cannot jump the queue.
      const next = this.queue.shift()
      if (next !== undefined) next()
      else this.active--
    }
  }
}

/**
 * withDeadline runs fn with an AbortSignal that fires after `ms`, and rejects with
 * CallTimeoutError (`what` did not answer within …) at that moment even if fn ignores the
 * signal. `extend`, handed to fn, restarts the deadline (a pull that makes progress).
 */
export async function withDeadline<T>(what: string, ms: number, fn: (signal: AbortSignal, extend: () => void) => Promise<T>): Promise<T> {
  const ac = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let reject: (err: Error) => void = () => undefined
  const expired = new Promise<never>((_, rej) => (reject = rej))
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      const err = new CallTimeoutError(`${what} did not answer within ${formatMs(ms)}`)
      ac.abort(err)
      reject(err)
    }, ms)
  }
  arm()
  try {
    const work = fn(ac.signal, arm)
    // A call that fails after its deadline fired must not surface as an unhandled rejection.
    work.catch(() => undefined)
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}
