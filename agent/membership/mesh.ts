// Mesh upkeep: keep targetPeers connections by dialling members learned from records (live
// ones first, Unreachable ones too in case they are back), and dial the bootstrap peers
// while alone; above three quarters of libp2p's connection cap, hang up on a few at random.
// A few dials or hang-ups per period at most, whatever the fleet's size. It owns no timers
// or sockets: Membership calls keep() every period; dials go through the Transport.
//
// Why a ceiling below the cap: a host at the cap refuses every inbound connection, and the
// probes of it that need one (a helper's ping-req, a confirmation) fail; it is suspected
// while alive, and the suspicions and refutations are broadcasts that load every host.
// Bootstrap peers and early hosts collect inbound connections; left at the cap they are
// suspected over and over (docs/scale-simulator.md).

import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import type { Transport } from '../transport.js'

export interface MeshOptions {
  transport: Pick<Transport, 'connectedPeers' | 'dial' | 'hangUp'>
  clock: Clock
  periodMs: number
  targetPeers: number
  /** libp2p's connection cap; absent, no ceiling. */
  maxConnections?: number
  bootstrap: string[]
  /** The first bootstrap dial's deadline (the network's dial deadline); it doubles per attempt in a row that failed, up to timings.bootstrapDialMaxMs. */
  dialTimeoutMs: number
  timings: Pick<Timings['membership'], 'bootstrapRetryBeats' | 'dialsPerBeat' | 'bootstrapDialMaxMs'>
  /** candidates returns up to n members to dial that are not in `connected`. */
  candidates(n: number, connected: ReadonlySet<string>): { peerId: string; addresses: readonly string[] }[]
  /** hangingUp is told of a connection this keeper is about to close (its close is no hint about that member). */
  hangingUp(peerId: string): void
  /** Random choices (which connections to hang up on). */
  random: () => number
  metrics: Metrics
  log: Logger
}

/** ceiling returns the most connections the keeper lets a host hold: three quarters of the cap, and at least twice targetPeers. */
export function ceiling(targetPeers: number, maxConnections: number | undefined): number {
  return maxConnections === undefined ? Number.POSITIVE_INFINITY : Math.max(2 * targetPeers, Math.floor((maxConnections * 3) / 4))
}

/** MeshKeeper dials peers until the agent holds targetPeers connections, and hangs up above the ceiling. */
export class MeshKeeper {
  private readonly opts: MeshOptions
  /** Monotonic time of the last bootstrap attempt; undefined before the first. */
  private lastBootstrap: number | undefined
  /** Whether the last bootstrap attempt's dials are still pending. */
  private bootstrapping = false
  /** Bootstrap attempts in a row that reached no bootstrap peer: each doubles the next one's deadline. */
  private bootstrapFailures = 0

  constructor(opts: MeshOptions) {
    this.opts = opts
  }

  /** keep dials members learned from records until targetPeers are connected (the bootstrap peers when alone), and trims above the ceiling. Never throws. */
  async keep(): Promise<void> {
    const connected = new Set(this.opts.transport.connectedPeers())
    this.opts.metrics.peers.set(connected.size)
    if (connected.size === 0) await this.dialBootstrap()
    const most = ceiling(this.opts.targetPeers, this.opts.maxConnections)
    if (connected.size > most) return this.trim([...connected], connected.size - most)
    if (connected.size >= this.opts.targetPeers) return
    const wanted = Math.min(this.opts.targetPeers - connected.size, this.opts.timings.dialsPerBeat)
    await Promise.all(this.opts.candidates(wanted, connected).map((n) => this.dialAny(n)))
  }

  /**
   * dialBootstrap dials every bootstrap peer, at most every bootstrapRetryBeats periods so a
   * lone agent does not spin, and not while the previous attempt's dials are pending: libp2p
   * joins a dial to an address already being dialled and abandons it only once every caller
   * has given up, so retries 1.5 s apart with 5 s deadlines kept a hung dial alive for good
   * (a lone agent stayed alone for minutes). Each attempt in a row that reaches no bootstrap
   * peer doubles the next one's deadline (up to bootstrapDialMaxMs): a bootstrap host joined by
   * many hosts at once answers late, and with a fixed 5 s it was seen to abandon dozens of
   * handshakes it had half served (docs/membership.md; that the doubling shortens such a start
   * is not yet measured).
   */
  async dialBootstrap(): Promise<void> {
    const now = this.opts.clock.mono()
    const retryMs = this.opts.timings.bootstrapRetryBeats * this.opts.periodMs
    if (this.bootstrapping || (this.lastBootstrap !== undefined && now - this.lastBootstrap < retryMs) || this.opts.bootstrap.length === 0) return
    this.lastBootstrap = now
    this.bootstrapping = true
    const deadlineMs = Math.min(this.opts.timings.bootstrapDialMaxMs, this.opts.dialTimeoutMs * 2 ** Math.min(this.bootstrapFailures, 16))
    const reached = await Promise.all(
      this.opts.bootstrap.map(async (addr) => {
        try {
          const peer = await this.opts.transport.dial(addr, deadlineMs)
          this.opts.log.info({ addr, peer }, 'connected to bootstrap peer')
          return true
        } catch (err) {
          this.opts.log.warn({ addr, err: (err as Error).message, deadlineMs }, 'bootstrap peer unreachable')
          return false
        }
      }),
    ).finally(() => (this.bootstrapping = false))
    this.bootstrapFailures = reached.includes(true) ? 0 : this.bootstrapFailures + 1
  }

  /** trim hangs up on `excess` connections at random (dialsPerBeat at most a period); the other side's detector takes it as a hint. */
  private async trim(connected: string[], excess: number): Promise<void> {
    const victims: string[] = []
    for (let i = 0; i < Math.min(excess, this.opts.timings.dialsPerBeat); i++) {
      const j = i + Math.floor(this.opts.random() * (connected.length - i))
      victims.push(connected[j] as string)
      connected[j] = connected[i] as string
    }
    this.opts.log.debug({ victims, connected: connected.length }, 'above the connection ceiling: hanging up')
    for (const v of victims) this.opts.hangingUp(v)
    await Promise.all(victims.map((p) => this.opts.transport.hangUp(p).catch(() => undefined)))
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
