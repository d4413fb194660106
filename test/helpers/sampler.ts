// A duplicate sampler for tests: polls Docker every 100 ms and records, per host and
// DaemonSet, the most copies seen at once (a copy: a managed container that is created,
// running, paused or restarting; exited, dead and removing ones are gone; the pods it is
// used with have one container each). Tests only.

import { managed } from './docker.js'

const LIVE = new Set(['created', 'running', 'paused', 'restarting'])

export class CopySampler {
  /** Most live copies of one DaemonSet on one host at once, by `node daemonSet`. */
  readonly most = new Map<string, number>()
  samples = 0
  private timer: NodeJS.Timeout | undefined
  private busy = false

  constructor(private readonly host: string, private readonly nodes: string[]) {}

  start(periodMs = 100): void {
    this.timer = setInterval(() => {
      if (this.busy) return
      this.busy = true
      void this.sample()
        .catch(() => undefined)
        .finally(() => (this.busy = false))
    }, periodMs)
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** duplicates lists every host and DaemonSet seen with more than one copy at once. */
  duplicates(): string[] {
    return [...this.most].filter(([, n]) => n > 1).map(([k, n]) => `${k}: ${n} copies at once`)
  }

  private async sample(): Promise<void> {
    const rows = await managed(this.host, this.nodes)
    this.samples++
    const counts = new Map<string, number>()
    for (const r of rows) {
      if (!LIVE.has(r.state)) continue
      const k = `${r.node} ${r.daemonSet}`
      counts.set(k, (counts.get(k) ?? 0) + 1)
    }
    for (const [k, n] of counts) this.most.set(k, Math.max(this.most.get(k) ?? 0, n))
  }
}
