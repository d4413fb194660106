// An in-memory Transport: several agents in one process, on one MemoryHub. Gossip reaches
// every other open transport on the hub with a handler for the topic (a fully meshed
// network: connections do not matter for gossip). Channels need a connection (dial) and
// carry frames through in-memory queues, with their deadlines on the hub's Clock, so a
// virtual clock times them out too. Everything is delivered on a later microtask, never
// inside the call that sent it. A test can cut links (channels between two peers vanish,
// with no reset: they time out, as over a dead link) and partition the hub (no channels
// and no gossip across groups); every transport counts what it sends. The scale simulator
// hands the hub a HubModel instead: frames then arrive after a modelled delay (in order per
// channel direction), dials take time, connections are capped, and gossip travels through
// the model's router (hop by hop, as gossipsub) instead of reaching everyone. Tests and the
// simulator only.

import type { Clock, Timer } from '../../agent/clock.js'
import { MAX_MESSAGE_BYTES } from '../../agent/network/constants.js'
import { ProtocolNotSupportedError, type ChannelHandler, type ChannelLimits, type FrameChannel, type GossipHandler, type GossipMessage, type Transport, type Verdict } from '../../agent/transport.js'

/**
 * HubModel is a network model for a MemoryHub (the scale simulator's). Without one, frames
 * arrive on the next microtask, dials are instant and gossip reaches every other transport.
 */
export interface HubModel {
  /** frameDelay returns the ms until a channel frame of `bytes` from `from` reaches `to` (latency, loss as retransmission, the receiver's CPU); `link`: the channel is long-lived (its opener set limits.idleMs), not a stream opened for one exchange. */
  frameDelay(from: string, to: string, bytes: number, link: boolean): number
  /** dialDelay returns the ms a dial from `from` to `to` takes (handshakes; `refused`: the target is at its cap and closes the connection before any handshake). */
  dialDelay(from: string, to: string, refused: boolean): number
  /** maxConnections caps each transport's connections, as libp2p's connection manager does: an inbound connection to a transport at the cap is refused; an outbound one beyond it makes the hub close one, chosen by `victim`. */
  readonly maxConnections: number
  /** victim picks which of `peer`'s connections to close (never `keep`). */
  victim(peer: string, connected: readonly string[], keep: string): string | undefined
  /** publish carries a gossip message from `from` (the router calls MemoryTransport.receive hop by hop). */
  publish(from: MemoryTransport, msg: GossipMessage): void
  /** connected and disconnected tell the model of connection changes (both directions at once). */
  connected(a: string, b: string): void
  disconnected(a: string, b: string): void
  /** joined and left tell the model of transports joining and leaving the hub. */
  joined(t: MemoryTransport): void
  left(peer: string): void
}

/** Carry delivers one frame of `bytes` (or the end of a channel, 0 bytes), in order per channel direction. */
type Carry = (bytes: number, deliver: () => void) => void

/** MemoryHub is the network the transports of one test share. */
export class MemoryHub {
  readonly clock: Clock
  readonly model: HubModel | undefined
  private readonly transports = new Map<string, MemoryTransport>()
  /** Cut links, as `a b` with a < b: channels between the two vanish; gossip still flows (relayed by others). */
  private readonly cuts = new Set<string>()
  /** Partition group of each peer; peers in different groups exchange nothing. Empty: no partition. */
  private readonly groups = new Map<string, number>()

  constructor(clock: Clock, model?: HubModel) {
    this.clock = clock
    this.model = model
  }

  /** join adds a transport for `peerId`, whose gossip carries `keyId` as the publisher's key. */
  join(peerId: string, keyId: string): MemoryTransport {
    if (this.transports.has(peerId)) throw new Error(`peer ${peerId} is already on the hub`)
    const t = new MemoryTransport(this, peerId, keyId)
    this.transports.set(peerId, t)
    this.model?.joined(t)
    return t
  }

  /** get returns the open transport of `peerId`. */
  get(peerId: string): MemoryTransport | undefined {
    return this.transports.get(peerId)
  }

  /** all lists the open transports. */
  all(): MemoryTransport[] {
    return [...this.transports.values()]
  }

  /** leave takes a transport off the hub (see MemoryTransport.close). */
  leave(peerId: string): void {
    this.transports.delete(peerId)
    this.model?.left(peerId)
  }

  /** carry returns how frames travel from `from` to `to` on a link or a one-exchange stream: on the next microtask, or after the model's delay, never overtaking an earlier frame. */
  carry(from: string, to: string, link: boolean): Carry {
    const model = this.model
    if (model === undefined) return (_bytes, deliver) => queueMicrotask(deliver)
    let last = 0
    return (bytes, deliver) => {
      const now = this.clock.mono()
      const at = Math.max(now + model.frameDelay(from, to, bytes, link), last)
      last = at
      this.clock.after(at - now, deliver)
    }
  }

  /** cut silently breaks the link between two peers: channels between them time out (no reset, no disconnect event); gossip still reaches both. */
  cut(a: string, b: string): void {
    this.cuts.add(a < b ? `${a} ${b}` : `${b} ${a}`)
  }

  /** partition splits the hub into groups (peers not listed form one more group): no channels and no gossip across, and no disconnect events (as a pulled cable). */
  partition(...groups: string[][]): void {
    this.groups.clear()
    groups.forEach((g, i) => g.forEach((p) => this.groups.set(p, i + 1)))
  }

  /** heal lifts every cut and the partition. */
  heal(): void {
    this.cuts.clear()
    this.groups.clear()
  }

  /** apart tells whether a partition separates two peers (no gossip, no channels). */
  apart(a: string, b: string): boolean {
    return (this.groups.get(a) ?? 0) !== (this.groups.get(b) ?? 0)
  }

  /** blocked tells whether channels between two peers vanish (a cut link or a partition). */
  blocked(a: string, b: string): boolean {
    return this.apart(a, b) || this.cuts.has(a < b ? `${a} ${b}` : `${b} ${a}`)
  }
}

/** Sent counts what one transport sent: gossip publishes, channels it opened, frames it wrote (on channels it opened or served). */
export interface Sent {
  published: number
  opened: number
  frames: number
}

interface Service {
  handler: ChannelHandler
  limits: ChannelLimits & { maxStreams: number }
  /** Inbound channels being served, per peer. */
  active: Map<string, number>
}

/** MemoryTransport is one agent's Transport on a MemoryHub. */
export class MemoryTransport implements Transport {
  readonly peerId: string
  readonly keyId: string
  /** What this transport sent so far (tests may reset the fields). */
  readonly sent: Sent = { published: 0, opened: 0, frames: 0 }
  private readonly hub: MemoryHub
  private readonly handlers = new Map<string, GossipHandler>()
  private readonly services = new Map<string, Service>()
  private readonly peers = new Set<string>()
  /** Our ends of open channels, with the peer at the other end: a crash or a hang-up resets them. */
  private readonly channels = new Map<MemoryChannel, string>()
  private readonly connectListeners: ((peer: string) => void)[] = []
  private readonly disconnectListeners: ((peer: string) => void)[] = []

  constructor(hub: MemoryHub, peerId: string, keyId: string) {
    this.hub = hub
    this.peerId = peerId
    this.keyId = keyId
  }

  addresses(): string[] {
    return [`/memory/${this.peerId}/p2p/${this.peerId}`]
  }

  connectedPeers(): string[] {
    return [...this.peers]
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    if (data.length > MAX_MESSAGE_BYTES) throw new Error(`message of ${data.length} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    if (!this.isOpen()) return
    this.sent.published++
    const msg: GossipMessage = { topic, data: data.slice(), from: this.peerId, fromKeyId: this.keyId }
    if (this.hub.model !== undefined) {
      this.hub.model.publish(this, msg)
      return
    }
    for (const other of this.hub.all()) if (other !== this && !this.hub.apart(this.peerId, other.peerId)) other.deliver(msg)
  }

  subscribe(topic: string, handler: GossipHandler): void {
    this.handlers.set(topic, handler)
  }

  async serve(protocol: string, handler: ChannelHandler, limits: ChannelLimits & { maxStreams: number }): Promise<void> {
    this.services.set(protocol, { handler, limits, active: new Map() })
  }

  async open(peer: string, protocol: string, limits: ChannelLimits, addresses: readonly string[] = []): Promise<FrameChannel> {
    if (this.isOpen() && this.hub.blocked(this.peerId, peer)) {
      // A dead link: what is written goes nowhere, and reads wait for the deadline.
      this.sent.opened++
      return new MemoryChannel(this.hub.clock, limits, () => undefined, this.sent)
    }
    if (!this.peers.has(peer)) for (const addr of addresses) await this.dial(addr).catch(() => undefined)
    const remote = this.isOpen() && this.peers.has(peer) ? this.hub.get(peer) : undefined
    if (remote === undefined) throw new Error(`not connected to ${peer}`)
    const service = remote.services.get(protocol)
    if (service === undefined) throw new ProtocolNotSupportedError(peer, protocol)
    const active = service.active.get(this.peerId) ?? 0
    if (active >= service.limits.maxStreams) throw new Error(`${peer} serves at most ${service.limits.maxStreams} ${protocol} streams`)
    service.active.set(this.peerId, active + 1)
    this.sent.opened++
    // A cut or a partition made later silences this channel too, as it would a stream.
    const dead = (): boolean => this.hub.blocked(this.peerId, peer)
    const link = limits.idleMs !== undefined
    const mine = new MemoryChannel(this.hub.clock, limits, this.hub.carry(this.peerId, peer, link), this.sent, dead)
    const theirs = new MemoryChannel(this.hub.clock, service.limits, this.hub.carry(peer, this.peerId, link), remote.sent, dead)
    mine.link(theirs)
    theirs.link(mine)
    this.channels.set(mine, peer)
    remote.channels.set(theirs, this.peerId)
    mine.onDone(() => this.channels.delete(mine))
    theirs.onDone(() => remote.channels.delete(theirs))
    queueMicrotask(() => {
      service
        .handler(theirs, this.peerId, this.keyId)
        .then(() => theirs.close())
        .catch((err: unknown) => theirs.abort(err instanceof Error ? err : new Error(String(err))))
        .finally(() => service.active.set(this.peerId, (service.active.get(this.peerId) ?? 1) - 1))
    })
    return mine
  }

  /** dial connects to `/memory/PEER/...`; both sides' onConnect listeners hear of a new connection. */
  async dial(addr: string): Promise<string> {
    const peer = /^\/memory\/([^/]+)/.exec(addr)?.[1]
    const target = peer === undefined || peer === this.peerId ? undefined : this.hub.get(peer)
    if (target === undefined || !this.isOpen() || this.hub.blocked(this.peerId, target.peerId)) throw new Error(`no peer at ${addr}`)
    const model = this.hub.model
    if (model !== undefined && !this.peers.has(target.peerId)) {
      const refused = target.peers.size >= model.maxConnections
      await this.hub.clock.sleep(model.dialDelay(this.peerId, target.peerId, refused))
      if (!this.isOpen() || !target.isOpen()) throw new Error(`no peer at ${addr}`)
      if (!this.peers.has(target.peerId) && (refused || target.peers.size >= model.maxConnections)) throw new Error(`connection to ${addr} refused: maxConnections exceeded`)
    }
    if (!this.peers.has(target.peerId)) {
      this.peers.add(target.peerId)
      target.peers.add(this.peerId)
      this.connected(target.peerId)
      target.connected(this.peerId)
      if (model !== undefined) {
        model.connected(this.peerId, target.peerId)
        this.trim(target.peerId)
      }
    }
    return target.peerId
  }

  onConnect(fn: (peer: string) => void): void {
    this.connectListeners.push(fn)
  }

  onDisconnect(fn: (peer: string) => void): void {
    this.disconnectListeners.push(fn)
  }

  /** hangUp drops the connection to `peer` (both sides hear of it); its channels stay as they are, as over a dead link. */
  async hangUp(peer: string): Promise<void> {
    const other = this.hub.get(peer)
    if (!this.peers.delete(peer)) return
    other?.peers.delete(this.peerId)
    this.reset((p) => p === peer)
    this.disconnected(peer)
    other?.disconnected(this.peerId)
    this.hub.model?.disconnected(this.peerId, peer)
  }

  /** close takes this transport off the hub, like a host that crashed: its connections drop (peers hear of it) and nothing reaches it. */
  close(): void {
    this.reset(() => true)
    this.hub.leave(this.peerId)
    for (const p of this.peers) {
      const other = this.hub.get(p)
      other?.peers.delete(this.peerId)
      other?.disconnected(this.peerId)
      this.hub.model?.disconnected(this.peerId, p)
    }
    this.peers.clear()
  }

  /** reset fails our channels to the peers `which` picks, and their other ends, as a closed connection resets its streams. */
  private reset(which: (peer: string) => boolean): void {
    for (const [ch, peer] of this.channels) if (which(peer)) ch.reset()
  }

  /** receive hands a gossip message to this transport's handler of its topic and returns the verdict (undefined: no handler). For a HubModel's router. */
  receive(msg: GossipMessage): Verdict | undefined {
    const handler = this.handlers.get(msg.topic)
    return handler === undefined || !this.isOpen() ? undefined : handler(msg)
  }

  /** isOpen tells whether this transport is on its hub. */
  isOpen(): boolean {
    return this.hub.get(this.peerId) === this
  }

  /** trim closes connections beyond the model's cap (as a connection manager prunes), never the one to `keep`. */
  private trim(keep: string): void {
    const model = this.hub.model
    if (model === undefined) return
    while (this.peers.size > model.maxConnections) {
      const victim = model.victim(this.peerId, [...this.peers], keep)
      if (victim === undefined) return
      this.peers.delete(victim)
      this.reset((p) => p === victim)
      this.disconnected(victim)
      const other = this.hub.get(victim)
      other?.peers.delete(this.peerId)
      other?.disconnected(this.peerId)
      model.disconnected(this.peerId, victim)
    }
  }

  private deliver(msg: GossipMessage): void {
    const handler = this.handlers.get(msg.topic)
    if (handler !== undefined) queueMicrotask(() => void handler(msg))
  }

  private connected(peer: string): void {
    for (const fn of this.connectListeners) queueMicrotask(() => fn(peer))
  }

  private disconnected(peer: string): void {
    for (const fn of this.disconnectListeners) queueMicrotask(() => fn(peer))
  }
}

/** MemoryChannel is one end of an in-memory channel: frames written here are read at the other end. */
class MemoryChannel implements FrameChannel {
  private other: MemoryChannel | undefined
  private readonly inbox: Uint8Array[] = []
  private readonly readers: { resolve: (frame: Uint8Array) => void; reject: (err: Error) => void }[] = []
  private readonly limits: ChannelLimits
  private deadline: Timer
  private readonly clock: Clock
  private readonly sent: Sent | undefined
  /** How frames written here travel to the other end. */
  private readonly carry: Carry
  /** Set once this end failed (deadline, oversized frame, reset): every operation then rejects with it. */
  private error: Error | undefined
  /** This end closed: no more writes. */
  private closed = false
  /** The other end closed: once the inbox is empty, reads reject. */
  private ended = false

  /** dead tells whether the link under the channel is cut now: what is written then goes nowhere. */
  private readonly dead: () => boolean

  constructor(clock: Clock, limits: ChannelLimits, carry: Carry, sent?: Sent, dead: () => boolean = () => true) {
    this.limits = limits
    this.carry = carry
    this.sent = sent
    this.dead = dead
    this.clock = clock
    this.deadline = this.arm()
  }

  /** arm starts the deadline: the whole channel's, or the idle one (limits.idleMs) that every frame restarts. */
  private arm(): Timer {
    const ms = this.limits.idleMs ?? this.limits.timeoutMs
    return this.clock.after(ms, () => this.abort(new Error(this.limits.idleMs === undefined ? `channel deadline of ${ms} ms passed` : `channel idle for ${ms} ms`)))
  }

  /** touch restarts an idle deadline. */
  private touch(): void {
    if (this.limits.idleMs === undefined || this.error !== undefined || this.closed) return
    this.deadline.cancel()
    this.deadline = this.arm()
  }

  link(other: MemoryChannel): void {
    this.other = other
  }

  /** onDone sets what to call once this end is finished (closed, failed, or its peer closed). */
  onDone(fn: () => void): void {
    this.done = fn
  }
  private done: (() => void) | undefined

  async write(frame: Uint8Array): Promise<void> {
    if (this.error !== undefined) throw this.error
    if (this.closed) throw new Error('channel closed')
    if (this.sent !== undefined) this.sent.frames++
    this.touch()
    if (this.dead()) return
    const copy = frame.slice()
    const other = this.other
    this.carry(copy.length, () => other?.arrive(copy))
  }

  read(): Promise<Uint8Array> {
    if (this.error !== undefined) return Promise.reject(this.error)
    const frame = this.inbox.shift()
    if (frame !== undefined) return Promise.resolve(frame)
    if (this.ended) return Promise.reject(new Error('channel closed by peer'))
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }))
  }

  async close(): Promise<void> {
    if (this.closed) return
    if (this.error !== undefined) throw this.error
    this.closed = true
    this.deadline.cancel()
    this.done?.()
    const other = this.other
    if (!this.dead()) this.carry(0, () => other?.end())
  }

  /** reset fails both ends: the connection under the channel closed. */
  reset(): void {
    this.fail(new Error('connection closed'))
    this.other?.fail(new Error('connection closed'))
  }

  /** abort fails this end with `err` and resets the other. */
  abort(err: Error): void {
    if (this.error !== undefined) return
    this.fail(err)
    if (!this.dead()) this.other?.fail(new Error('channel reset by peer'))
  }

  private arrive(frame: Uint8Array): void {
    if (this.error !== undefined) return
    if (frame.length > this.limits.maxFrameBytes) {
      this.abort(new Error(`frame of ${frame.length} bytes exceeds ${this.limits.maxFrameBytes}`))
      return
    }
    this.touch()
    const reader = this.readers.shift()
    if (reader === undefined) this.inbox.push(frame)
    else reader.resolve(frame)
  }

  private end(): void {
    this.ended = true
    this.done?.()
    for (const r of this.readers.splice(0)) r.reject(new Error('channel closed by peer'))
  }

  private fail(err: Error): void {
    if (this.error !== undefined) return
    this.error = err
    this.deadline.cancel()
    this.done?.()
    for (const r of this.readers.splice(0)) r.reject(err)
  }
}
