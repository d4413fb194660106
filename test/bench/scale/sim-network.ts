// The simulated network: a HubModel for MemoryHub that gives every message the latency,
// loss and CPU cost of params.ts, carries gossip through the gossipsub model (gossip-mesh.ts)
// and counts every message and byte each host sends, by kind. A host's CPU is one queue:
// a message is handled when it has arrived and the host finished what came before, and
// occupies the host for its CPU cost (so a burst delays everything behind it). Connections
// are capped as libp2p's connection manager caps them (gossip mesh peers protected).

import type { Timer } from '../../../agent/clock.js'
import { Topics } from '../../../agent/network/constants.js'
import type { GossipMessage } from '../../../agent/transport.js'
import type { HubModel, MemoryTransport } from '../../helpers/memory-transport.js'
import { GossipMesh, type GossipKind, type GossipParams } from './gossip-mesh.js'
import type { LinkParams } from './params.js'
import type { SimClock } from './sim-clock.js'

/** Kinds of traffic counted. */
export type TrafficKind = GossipKind | 'frame' | 'dial' | 'keepalive'

/** Traffic is what the hosts sent, per kind: messages and bytes. */
export type Traffic = Record<TrafficKind, { msgs: number; bytes: number }>

const KINDS: TrafficKind[] = ['message', 'ihave', 'iwant', 'idontwant', 'graft', 'prune', 'frame', 'dial', 'keepalive']

export const emptyTraffic = (): Traffic => Object.fromEntries(KINDS.map((k) => [k, { msgs: 0, bytes: 0 }])) as Traffic

/** diffTraffic returns b - a. */
export function diffTraffic(a: Traffic, b: Traffic): Traffic {
  return Object.fromEntries(KINDS.map((k) => [k, { msgs: b[k].msgs - a[k].msgs, bytes: b[k].bytes - a[k].bytes }])) as Traffic
}

/** totalOf sums messages and bytes over kinds (all, or those given). */
export function totalOf(t: Traffic, kinds: readonly TrafficKind[] = KINDS): { msgs: number; bytes: number } {
  return kinds.reduce((s, k) => ({ msgs: s.msgs + t[k].msgs, bytes: s.bytes + t[k].bytes }), { msgs: 0, bytes: 0 })
}

/** Z90 is the standard normal's 90th percentile: a log-normal's sigma is ln(p90/p50)/Z90. */
const Z90 = 1.2816

/** SimNetwork is the HubModel of the simulator. */
export class SimNetwork implements HubModel {
  readonly maxConnections: number
  readonly gossip: GossipMesh
  readonly traffic: Traffic = emptyTraffic()
  /** Messages published (not relays), by what they are: a node record, a suspect or failed notice, a store envelope. */
  readonly published = new Map<string, number>()
  /** New messages handed to a host's handler (duplicates not), by what they are, and those it accepted (relays them). */
  readonly delivered = new Map<string, number>()
  readonly relayed = new Map<string, number>()
  /** CPU ms each host spent on messages (by index), for the report. */
  readonly cpu: Float64Array
  /** The same CPU by what it was spent on (by index, then kind), to tell where a busy host's time goes. */
  readonly cpuByKind: Map<string, number>[] = []
  private readonly clock: SimClock
  private readonly params: LinkParams
  private readonly random: () => number
  private readonly index = new Map<string, number>()
  private readonly transports: (MemoryTransport | undefined)[] = []
  private readonly busy: Float64Array
  private readonly timers = new Map<number, Timer[]>()
  /** Each host's connections: the peer's index -> whether this host dialled it, and when it opened. */
  private readonly connections = new Map<number, Map<number, { outbound: boolean; at: number }>>()

  constructor(opts: { clock: SimClock; params: LinkParams; gossip: GossipParams; topics: readonly string[]; capacity: number; maxConnections: number; random: () => number }) {
    this.clock = opts.clock
    this.params = opts.params
    this.random = opts.random
    this.maxConnections = opts.maxConnections
    this.busy = new Float64Array(opts.capacity)
    this.cpu = new Float64Array(opts.capacity)
    this.gossip = new GossipMesh(
      opts.gossip,
      {
        after: (ms, fn) => void this.clock.after(ms, fn),
        random: this.random,
        // Across a partition (a cut host: the hub's) an RPC never arrives, as on a link that carries nothing.
        delay: (from, to, topic, bytes, full) =>
          this.partitioned(from, to)
            ? Number.POSITIVE_INFINITY
            : this.arrival(to, this.latency(this.params.gossipHopMs, bytes), full ? this.gossipCpu(topic, bytes) : this.params.duplicateCpuMs, full ? `gossip ${topic ?? 'control'}` : 'duplicate'),
        sent: (from, kind, bytes) => this.count(kind, bytes + this.params.gossipOverheadBytes),
        handle: (to, msg) => {
          const what = this.whatOf(msg)
          this.delivered.set(what, (this.delivered.get(what) ?? 0) + 1)
          const v = this.transports[to]?.receive(msg)
          if (v === 'accept') this.relayed.set(what, (this.relayed.get(what) ?? 0) + 1)
          return v
        },
      },
      opts.topics,
      opts.capacity,
    )
  }

  /** apart tells whether two peers (by peer id) are on two sides of a partition; the fleet sets it to its hub's. */
  apart: (a: string, b: string) => boolean = () => false

  private partitioned(from: number, to: number): boolean {
    const a = this.transports[from]?.peerId
    const b = this.transports[to]?.peerId
    return a !== undefined && b !== undefined && this.apart(a, b)
  }

  /** indexOf returns a transport's index (its order of joining). */
  indexOf(peer: string): number | undefined {
    return this.index.get(peer)
  }

  /** connectionsOf returns the number of connections a host holds. */
  connectionsOf(peer: string): number {
    const i = this.index.get(peer)
    return i === undefined ? 0 : (this.connections.get(i)?.size ?? 0)
  }

  frameDelay(from: string, to: string, bytes: number, link: boolean): number {
    // A frame; a close (0 bytes) stands for the stream's opening and closing, counted in bytes only.
    if (bytes > 0) this.count('frame', bytes + this.params.frameOverheadBytes)
    else this.traffic.frame.bytes += this.params.streamBytes / 2
    const j = this.index.get(to)
    // A link's frame pays no stream opening: its latency and CPU are measured on their own (measure.ts).
    const wire = this.latency(link ? this.params.linkFrameMs : this.params.frameMs, bytes)
    return j === undefined || bytes === 0 ? wire : this.arrival(j, wire, link ? this.params.linkFrameCpuMs : this.params.frameCpuMs, link ? 'link frame' : 'frame')
  }

  dialDelay(from: string, to: string, refused: boolean): number {
    const i = this.index.get(from)
    const j = this.index.get(to)
    if (refused) {
      // libp2p's connection manager refuses an inbound connection at its cap before any
      // handshake: a TCP connect and close (cost estimated, not measured).
      this.count('dial', this.params.refusedDialBytes)
      const wire = this.latency(this.params.frameMs, 0)
      if (j !== undefined) this.arrival(j, wire, this.params.refusedDialCpuMs, 'refused dial')
      return i === undefined ? wire : this.arrival(i, wire, this.params.refusedDialCpuMs, 'refused dial')
    }
    this.count('dial', this.params.dialBytes)
    const wire = this.sample(this.params.dialMs) + 8 * this.params.extraLatencyMs
    // Both sides do the handshakes' work.
    if (j !== undefined) this.arrival(j, wire, this.params.dialCpuMs, 'dial')
    return i === undefined ? wire : this.arrival(i, wire, this.params.dialCpuMs, 'dial')
  }

  /**
   * victim picks the connection libp2p's pruner closes first: the lowest tag value (gossipsub
   * tags its mesh peers), then inbound before outbound, then the newest (streams open, its
   * other criterion, are not modelled).
   */
  victim(peer: string, connected: readonly string[], keep: string): string | undefined {
    const i = this.index.get(peer)
    if (i === undefined) return connected.find((p) => p !== keep)
    const info = this.connections.get(i)
    let best: { p: string; rank: [number, number, number] } | undefined
    for (const p of connected) {
      if (p === keep) continue
      const j = this.index.get(p) ?? -1
      const c = info?.get(j)
      const rank: [number, number, number] = [this.gossip.inMesh(i, j) ? 1 : 0, c?.outbound === true ? 1 : 0, -(c?.at ?? 0)]
      if (best === undefined || rank[0] < best.rank[0] || (rank[0] === best.rank[0] && (rank[1] < best.rank[1] || (rank[1] === best.rank[1] && rank[2] < best.rank[2])))) best = { p, rank }
    }
    return best?.p
  }

  publish(from: MemoryTransport, msg: GossipMessage): void {
    const what = this.whatOf(msg)
    this.published.set(what, (this.published.get(what) ?? 0) + 1)
    const i = this.index.get(from.peerId)
    if (i !== undefined) this.gossip.publish(i, msg)
  }

  connected(a: string, b: string): void {
    const i = this.index.get(a)
    const j = this.index.get(b)
    if (i === undefined || j === undefined) return
    this.gossip.connect(i, j)
    const at = this.clock.mono()
    this.connections.get(i)?.set(j, { outbound: true, at })
    this.connections.get(j)?.set(i, { outbound: false, at })
  }

  disconnected(a: string, b: string): void {
    const i = this.index.get(a)
    const j = this.index.get(b)
    if (i === undefined || j === undefined) return
    this.gossip.disconnect(i, j)
    this.connections.get(i)?.delete(j)
    this.connections.get(j)?.delete(i)
  }

  joined(t: MemoryTransport): void {
    const i = this.transports.length
    this.index.set(t.peerId, i)
    this.transports.push(t)
    this.connections.set(i, new Map())
    this.gossip.add(i)
    const hb = this.gossip.params.heartbeatMs
    // gossipsub's first heartbeat comes 100 ms after start, then every heartbeatMs.
    const heartbeat = this.clock.after(100, () => {
      this.gossip.heartbeat(i)
      this.timers.get(i)?.push(this.clock.every(hb, () => this.gossip.heartbeat(i)))
    })
    // yamux's keepalive: every connection pinged from each side every keepaliveMs (a ping and its pong).
    const keepalive = this.clock.every(this.params.keepaliveMs, () => {
      const n = this.connections.get(i)?.size ?? 0
      for (let k = 0; k < 2 * n; k++) this.count('keepalive', this.params.keepaliveBytes)
    })
    this.timers.set(i, [heartbeat, keepalive])
  }

  left(peer: string): void {
    const i = this.index.get(peer)
    if (i === undefined) return
    for (const t of this.timers.get(i) ?? []) t.cancel()
    this.timers.delete(i)
    this.gossip.remove(i)
    for (const j of this.connections.get(i)?.keys() ?? []) this.connections.get(j)?.delete(i)
    this.connections.delete(i)
    this.transports[i] = undefined
  }

  /** whatOf names a gossip message: a node record, a suspect or failed notice, a store envelope. */
  private whatOf(msg: GossipMessage): string {
    return msg.topic !== Topics.nodes ? 'store envelope' : (/^\{"t":"(suspect|failed)"/.exec(Buffer.from(msg.data.buffer, msg.data.byteOffset, Math.min(20, msg.data.byteLength)).toString())?.[1] ?? 'node record')
  }

  /** gossipCpu is what handling a new gossip message costs: a store envelope, a node record, or a small message (a suspicion notice, a control RPC). */
  private gossipCpu(topic: string | undefined, bytes: number): number {
    const c = this.params.gossipCpuMs
    if (topic === Topics.store) return c.storeEnvelope
    return topic === undefined || bytes < 256 ? c.notice : c.record
  }

  /** arrival returns the delay until host `to` handles a message arriving after `wire` ms, queued behind its earlier work, and books its CPU. */
  private arrival(to: number, wire: number, cpuMs: number, kind: string): number {
    const byKind = (this.cpuByKind[to] ??= new Map())
    byKind.set(kind, (byKind.get(kind) ?? 0) + cpuMs)
    const now = this.clock.mono()
    const start = Math.max(now + wire, this.busy[to] as number)
    this.busy[to] = start + cpuMs
    this.cpu[to] = (this.cpu[to] as number) + cpuMs
    return start - now
  }

  /** latency draws one message's wire time: log-normal, plus the extra latency, plus retransmissions of lost segments. */
  private latency(dist: { p50: number; p90: number }, _bytes: number): number {
    let ms = this.sample(dist) + this.params.extraLatencyMs
    let rto = this.params.rtoMs
    while (this.params.loss > 0 && this.random() < this.params.loss) {
      ms += rto
      rto *= 2
    }
    return ms
  }

  private sample(dist: { p50: number; p90: number }): number {
    const sigma = Math.log(dist.p90 / dist.p50) / Z90
    // Box-Muller.
    const u = Math.max(1e-12, this.random())
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random())
    return dist.p50 * Math.exp(sigma * z)
  }

  private count(kind: TrafficKind, bytes: number): void {
    const t = this.traffic[kind]
    t.msgs++
    t.bytes += bytes
  }
}
