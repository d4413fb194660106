// Mesh upkeep: keep targetPeers connections by dialling members learned from records (live
// ones first, Unreachable ones too in case they are back), and dial the bootstrap peers
// while alone. A few dials per period at most, whatever the fleet's size. It owns no timers
// or sockets: Membership calls keep() every period; dials go through the Transport.

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import type { Transport } from '../transport.js'

export interface MeshOptions {
  transport: Pick<Transport, 'connectedPeers' | 'dial'>
  clock: Clock
  periodMs: number
  targetPeers: number
  bootstrap: string[]
  timings: Pick<Timings['membership'], 'bootstrapRetryBeats' | 'dialsPerBeat'>
  /** candidates returns up to n members to dial that are not in `connected`. */
  candidates(n: number, connected: ReadonlySet<string>): { peerId: string; addresses: readonly string[] }[]
  metrics: Metrics
  log: Logger
}

/** MeshKeeper dials peers until the agent holds targetPeers connections. */
export class MeshKeeper {
  private readonly opts: MeshOptions
  /** Monotonic time of the last bootstrap attempt; undefined before the first. */
  private lastBootstrap: number | undefined

  constructor(opts: MeshOptions) {
    this.opts = opts
  }

  /** keep dials members learned from records until targetPeers are connected; the bootstrap peers when alone. Never throws. */
  async keep(): Promise<void> {
    const connected = new Set(this.opts.transport.connectedPeers())
    this.opts.metrics.peers.set(connected.size)
    if (connected.size === 0) await this.dialBootstrap()
    if (connected.size >= this.opts.targetPeers) return
    const wanted = Math.min(this.opts.targetPeers - connected.size, this.opts.timings.dialsPerBeat)
    await Promise.all(this.opts.candidates(wanted, connected).map((n) => this.dialAny(n)))
  }

  /** dialBootstrap dials every bootstrap peer, at most every bootstrapRetryBeats periods so a lone agent does not spin. */
  async dialBootstrap(): Promise<void> {
    const now = this.opts.clock.mono()
    const retryMs = this.opts.timings.bootstrapRetryBeats * this.opts.periodMs
    if ((this.lastBootstrap !== undefined && now - this.lastBootstrap < retryMs) || this.opts.bootstrap.length === 0) return
    this.lastBootstrap = now
    await Promise.all(
      this.opts.bootstrap.map(async (addr) => {
        try {
          const peer = await this.opts.transport.dial(addr)
          this.opts.log.info({ addr, peer }, 'connected to bootstrap peer')
        } catch (err) {
          this.opts.log.warn({ addr, err: (err as Error).message }, 'bootstrap peer unreachable')
        }
      }),
    )
  }

  private async dialAny(member: { peerId: string; addresses: readonly string[] }): Promise<void> {
    for (const addr of member.addresses) {
      if (!addr.includes(`/p2p/${member.peerId}`)) continue
      try {
        await this.opts.transport.dial(addr)
        return
      } catch (err) {
        this.opts.log.debug({ err, addr }, 'dial failed')
      }
    }
  }
}
