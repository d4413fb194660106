// The files of running pods kept up to date: when the store changes (a ConfigMap or Secret
// was applied) and every refresh period, the agent rewrites the configMap, secret, downwardAPI and
// projected files of the pods it runs, through the runtime, without restarting anything
// (kubelet's behaviour; docs/configmaps.md). Env values are not touched: they change only
// with a new pod. Refreshes never overlap; a trigger during one runs another after it.

import type { Logger } from 'pino'
import type { LwwMap } from '../core/crdt.js'
import { podPlan } from '../core/container-spec.js'
import { shouldRun } from '../core/eligibility.js'
import { Prefix } from '../core/keyspace.js'
import { nodeInfoOf, type NodeRecord } from '../core/node-record.js'
import type { DaemonSet } from '../core/types.js'
import { storeObjects } from '../core/volumes.js'
import type { SecretKey } from '../core/secret-box.js'
import type { Clock, Timer } from './clock.js'
import type { ContainerRuntime } from './runtime/runtime.js'
import { Serial } from './serial.js'

export interface FileRefresherOptions {
  runtime: Pick<ContainerRuntime, 'refreshFiles'>
  store: Pick<LwwMap, 'live' | 'get'>
  /** This node's record. */
  self: () => NodeRecord
  clock: Clock
  /**
   * How often files are rewritten even without a store change (a change missed while the
   * agent restarted). Kubelet takes up to about a minute; shorter costs a few file reads
   * per pod and period when nothing changed.
   */
  periodMs: number
  /** The fleet secret key, when this host holds one: opens the Secrets of the pods it runs. */
  secretKey?: SecretKey
  log: Logger
}

/** FileRefresher rewrites the agent-written files of this node's pods; start/stop are explicit. */
export class FileRefresher {
  private readonly opts: FileRefresherOptions
  private timer: Timer | undefined
  private readonly refreshes = new Serial(() => this.refresh(), (err) => this.opts.log.warn({ err }, 'refreshing pod files failed'))
  private stopped = true

  constructor(opts: FileRefresherOptions) {
    this.opts = opts
  }

  start(): void {
    this.stopped = false
    this.timer = this.opts.clock.every(this.opts.periodMs, () => this.trigger())
  }

  stop(): void {
    this.stopped = true
    this.timer?.cancel()
  }

  /** trigger asks for a refresh (must not block); refreshes never overlap. */
  trigger(): void {
    if (!this.stopped) this.refreshes.request()
  }

  private async refresh(): Promise<void> {
    const info = nodeInfoOf(this.opts.self())
    const objects = storeObjects((key) => this.opts.store.get(key), this.opts.secretKey)
    for (const e of this.opts.store.live(Prefix.daemonSet)) {
      const ds = e.value as DaemonSet
      if (!shouldRun(info, ds).shouldContinueRunning) continue
      const plan = podPlan(ds, info, objects)
      if (plan.volumes.some((v) => v.kind === 'files')) await this.opts.runtime.refreshFiles(plan)
    }
  }
}
