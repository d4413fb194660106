// A model of gossipsub (v1.2, as @chainsafe/libp2p-gossipsub 14 runs it) for the simulator:
// per topic, each peer keeps a mesh of D peers among its connections (grafting up to D below
// Dlo, pruning down to D above Dhi at every heartbeat); a message is validated by the
// receiver's handler and, when accepted, cached and relayed hop by hop to its mesh (never back to where it came from
// or to its publisher); a peer that receives a large message first tells its mesh it does
// not want it again (IDONTWANT); at every heartbeat each peer offers the ids it received in
// the last few heartbeats to Dlazy peers outside its mesh (IHAVE), which ask for the ones
// they lack (IWANT). Duplicates are dropped before validation (the seen cache). What it
// leaves out: peer scoring (every peer is well behaved here), opportunistic grafting, Dout,
// backoff after PRUNE, fanout and flood publishing (we publish only to subscribed topics,
// with floodPublish off). Pure of I/O: deliveries and heartbeats go through the GossipEnv.

import { GOSSIP_MESH } from '../../../agent/network/constants.js'
import type { GossipMessage, Verdict } from '../../../agent/transport.js'

/** GossipParams are the gossipsub options the model runs with. */
export interface GossipParams {
  D: number
  Dlo: number
  Dhi: number
  Dlazy: number
  gossipFactor: number
  heartbeatMs: number
  /** Heartbeats whose message ids go out in IHAVE (mcacheGossip). */
  historyGossip: number
  /** Heartbeats a message stays answerable to IWANT (mcacheLength). */
  historyLength: number
  /** Messages of at least this many bytes trigger IDONTWANT to the mesh. */
  idontwantMinBytes: number
  /** At most this many ids in one IHAVE. */
  maxIHaveLength: number
}

/**
 * OUR_GOSSIPSUB is what agent/network/network.ts configures (GOSSIP_MESH: D, Dlo, Dhi, Dlazy
 * and mcacheGossip, read from there; floodPublish off) over the library's defaults
 * (heartbeat 1 s, mcacheLength 5, gossipFactor 0.25, IDONTWANT from 512 bytes, IHAVE of at
 * most 5000 ids). Until 2026-11-27 (session 19) IHAVE offered the last 3 heartbeats'
 * messages, the library's default.
 */
export const OUR_GOSSIPSUB: GossipParams = { D: GOSSIP_MESH.D, Dlo: GOSSIP_MESH.Dlo, Dhi: GOSSIP_MESH.Dhi, Dlazy: GOSSIP_MESH.Dlazy, gossipFactor: 0.25, heartbeatMs: 1000, historyGossip: GOSSIP_MESH.mcacheGossip, historyLength: 5, idontwantMinBytes: 512, maxIHaveLength: 5000 }

/** Kinds of gossipsub RPCs the model sends, for the traffic counts. */
export type GossipKind = 'message' | 'ihave' | 'iwant' | 'idontwant' | 'graft' | 'prune'

/** GossipEnv is what the model needs around it: time, randomness, delivery, and the peers' handlers. */
export interface GossipEnv {
  /** schedule runs fn after `ms`. */
  after(ms: number, fn: () => void): void
  random(): number
  /** delay returns the ms an RPC of `bytes` (a message of `topic`, or a control RPC: undefined) from peer `from` takes to be handled at `to` (duplicates are dropped early: `full` false). */
  delay(from: number, to: number, topic: string | undefined, bytes: number, full: boolean): number
  /** sent counts one RPC of a kind and its size (bytes on the wire, overheads included by the env). */
  sent(from: number, kind: GossipKind, bytes: number): void
  /** handle hands a new message to peer `to`'s topic handler; undefined when it has none (or is gone). */
  handle(to: number, msg: GossipMessage): Verdict | undefined
}

/** Message is one published message as the model tracks it: who has seen it, as a bitset over peer indexes. */
interface Message {
  id: number
  msg: GossipMessage
  bytes: number
  publisher: number
  seen: Uint8Array
  /** Hosts a copy was already sent to at a new message's cost: a later copy is a duplicate, whenever it is handled. */
  charged: Uint8Array
}

interface Peer {
  index: number
  connected: Set<number>
  mesh: Map<string, Set<number>>
  /** Message cache windows, newest first: messages published, or received and accepted, in each of the last heartbeats. */
  windows: Message[][]
  /** Every message in `windows` (a message enters a peer's cache once: when published or first received). */
  cached: Set<Message>
  alive: boolean
}

/** Bytes of one message id on the wire (strict-sign id: the publisher's peer id and an 8-byte seqno). */
const MSG_ID_BYTES = 46
/** Bytes of a control RPC besides its ids (topic, framing). */
const CONTROL_BYTES = 40

/** GossipMesh runs gossipsub's mesh, relay and lazy gossip over peers known by index. */
export class GossipMesh {
  readonly params: GossipParams
  private readonly env: GossipEnv
  private readonly topics: readonly string[]
  private readonly capacity: number
  private readonly peers: (Peer | undefined)[] = []
  private nextId = 0
  /** Deliveries by outcome, for the report. */
  readonly stats = { delivered: 0, duplicates: 0, iwanted: 0 }

  constructor(params: GossipParams, env: GossipEnv, topics: readonly string[], capacity: number) {
    this.params = params
    this.env = env
    this.topics = topics
    this.capacity = capacity
  }

  /** add makes peer `index` known (subscribed to every topic); its heartbeats are the caller's to run (heartbeat). */
  add(index: number): void {
    if (index >= this.capacity) throw new RangeError(`peer index ${index} beyond the capacity ${this.capacity}`)
    this.peers[index] = { index, connected: new Set(), mesh: new Map(this.topics.map((t) => [t, new Set<number>()])), windows: [[]], cached: new Set(), alive: true }
  }

  /** remove forgets a peer (it crashed): nothing reaches it, its links are gone. */
  remove(index: number): void {
    const p = this.peers[index]
    if (p === undefined) return
    p.alive = false
    for (const q of p.connected) this.disconnect(index, q)
    this.peers[index] = undefined
  }

  connect(a: number, b: number): void {
    const pa = this.peers[a]
    const pb = this.peers[b]
    if (pa === undefined || pb === undefined) return
    pa.connected.add(b)
    pb.connected.add(a)
  }

  disconnect(a: number, b: number): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const p = this.peers[x]
      if (p === undefined) continue
      p.connected.delete(y)
      for (const m of p.mesh.values()) m.delete(y)
    }
  }

  /** inMesh tells whether `b` is in `a`'s mesh of any topic (a connection manager protects those). */
  inMesh(a: number, b: number): boolean {
    const p = this.peers[a]
    if (p === undefined) return false
    for (const m of p.mesh.values()) if (m.has(b)) return true
    return false
  }

  /** meshOf returns a peer's mesh of a topic (for tests and the report). */
  meshOf(index: number, topic: string): number[] {
    return [...(this.peers[index]?.mesh.get(topic) ?? [])]
  }

  /** publish sends a message from peer `from` to its mesh, topped up to D with other connected peers. */
  publish(from: number, msg: GossipMessage): void {
    const p = this.peers[from]
    if (p === undefined) return
    const m: Message = { id: this.nextId++, msg, bytes: msg.data.length, publisher: from, seen: new Uint8Array(Math.ceil(this.capacity / 8)), charged: new Uint8Array(Math.ceil(this.capacity / 8)) }
    mark(m, from)
    cache(p, m)
    const mesh = p.mesh.get(msg.topic) ?? new Set<number>()
    const to = new Set(mesh)
    if (to.size < this.params.D) for (const q of this.sample([...p.connected].filter((q) => !mesh.has(q)), this.params.D - to.size)) to.add(q)
    for (const q of to) this.send(p, q, m)
  }

  /** heartbeat is one gossipsub heartbeat of peer `index`: mesh upkeep per topic, then IHAVE to peers outside the mesh, then a new cache window. */
  heartbeat(index: number): void {
    const p = this.peers[index]
    if (p === undefined) return
    for (const topic of this.topics) {
      const mesh = p.mesh.get(topic) as Set<number>
      for (const q of mesh) if (!p.connected.has(q) || this.peers[q] === undefined) mesh.delete(q)
      if (mesh.size < this.params.Dlo) {
        for (const q of this.sample([...p.connected].filter((q) => !mesh.has(q)), this.params.D - mesh.size)) {
          mesh.add(q)
          this.env.sent(index, 'graft', CONTROL_BYTES)
          this.env.after(this.env.delay(index, q, undefined, CONTROL_BYTES, true), () => {
            const r = this.peers[q]
            if (r !== undefined && r.connected.has(index)) r.mesh.get(topic)?.add(index)
          })
        }
      } else if (mesh.size > this.params.Dhi) {
        for (const q of this.sample([...mesh], mesh.size - this.params.D)) {
          mesh.delete(q)
          this.env.sent(index, 'prune', CONTROL_BYTES)
          this.env.after(this.env.delay(index, q, undefined, CONTROL_BYTES, true), () => this.peers[q]?.mesh.get(topic)?.delete(index))
        }
      }
      this.emitGossip(p, topic, mesh)
    }
    p.windows.unshift([])
    if (p.windows.length > this.params.historyLength) for (const m of p.windows.pop() ?? []) p.cached.delete(m)
  }

  private emitGossip(p: Peer, topic: string, mesh: Set<number>): void {
    const ids: Message[] = []
    for (const w of p.windows.slice(0, this.params.historyGossip)) for (const m of w) if (m.msg.topic === topic) ids.push(m)
    if (ids.length === 0) return
    const candidates = [...p.connected].filter((q) => !mesh.has(q))
    const target = Math.min(candidates.length, Math.max(this.params.Dlazy, Math.floor(this.params.gossipFactor * candidates.length)))
    const offered = ids.length > this.params.maxIHaveLength ? this.sample(ids, this.params.maxIHaveLength) : ids
    const bytes = CONTROL_BYTES + MSG_ID_BYTES * offered.length
    for (const q of this.sample(candidates, target)) {
      this.env.sent(p.index, 'ihave', bytes)
      this.env.after(this.env.delay(p.index, q, undefined, bytes, true), () => this.ihave(q, p.index, offered))
    }
  }

  /** ihave: peer `at` hears ids from `from` and asks for those it has not seen. */
  private ihave(at: number, from: number, offered: Message[]): void {
    const p = this.peers[at]
    if (p === undefined || !p.connected.has(from)) return
    const wanted = offered.filter((m) => !seen(m, at))
    if (wanted.length === 0) return
    const bytes = CONTROL_BYTES + MSG_ID_BYTES * wanted.length
    this.env.sent(at, 'iwant', bytes)
    this.env.after(this.env.delay(at, from, undefined, bytes, true), () => {
      const q = this.peers[from]
      if (q === undefined || !q.connected.has(at)) return
      // Only what is still in the cache is answered.
      for (const m of wanted) {
        if (!q.cached.has(m)) continue
        this.stats.iwanted++
        this.send(q, at, m)
      }
    })
  }

  private send(p: Peer, to: number, m: Message): void {
    // The first copy on its way to a host is the one it handles in full; every later copy is
    // dropped by id when the host reaches it, even one sent before the first was handled (a
    // host with a long queue would otherwise pay the full cost for each copy in the queue).
    const full = !seen(m, to) && !bit(m.charged, to)
    if (full) setBit(m.charged, to)
    this.env.sent(p.index, 'message', m.bytes)
    this.env.after(this.env.delay(p.index, to, m.msg.topic, m.bytes, full), () => this.arrive(to, p.index, m))
  }

  /** arrive: message `m` reaches peer `at` from `from`: dropped if seen, else validated and relayed. */
  private arrive(at: number, from: number, m: Message): void {
    const p = this.peers[at]
    if (p === undefined || !p.connected.has(from)) return
    if (seen(m, at)) {
      this.stats.duplicates++
      return
    }
    mark(m, at)
    this.stats.delivered++
    const mesh = p.mesh.get(m.msg.topic) ?? new Set<number>()
    const large = m.bytes >= this.params.idontwantMinBytes
    if (large) for (const q of mesh) if (q !== from) this.env.sent(at, 'idontwant', CONTROL_BYTES + MSG_ID_BYTES)
    const verdict = this.env.handle(at, m.msg)
    if (verdict !== 'accept') return
    // gossipsub puts a message in its cache (what IHAVE offers and IWANT answers) only once
    // its topic validator accepted it: an ignored message goes no further, lazily or not.
    cache(p, m)
    for (const q of mesh) {
      if (q === from || q === m.publisher) continue
      // IDONTWANT: a mesh peer that has it already said so (for large messages).
      if (large && seen(m, q)) continue
      this.send(p, q, m)
    }
  }

  /** sample returns up to n distinct random elements of xs (partial Fisher-Yates; xs is reordered). */
  private sample<T>(xs: T[], n: number): T[] {
    const k = Math.min(n, xs.length)
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.env.random() * (xs.length - i))
      const t = xs[i] as T
      xs[i] = xs[j] as T
      xs[j] = t
    }
    return xs.slice(0, k)
  }
}

/** cache puts a message in a peer's newest cache window. */
function cache(p: Peer, m: Message): void {
  p.windows[0]?.push(m)
  p.cached.add(m)
}

function mark(m: Message, i: number): void {
  setBit(m.seen, i)
}

function seen(m: Message, i: number): boolean {
  return bit(m.seen, i)
}

function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7))
}

function bit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] as number) & (1 << (i & 7))) !== 0
}
