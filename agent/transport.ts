// The message transport under membership, anti-entropy and the lease, as one seam:
// topic gossip with a validator per topic, framed request streams between two peers,
// dialling, and the connection events protocols react to. libp2p (agent/network) is the
// production implementation; a simulator or a test may hand components another one.

/** Verdict of a topic handler: accept and relay, ignore (drop quietly), or reject (drop and penalise the sender). */
export type Verdict = 'accept' | 'ignore' | 'reject'

/** A received gossip message whose publisher is authenticated by the transport. */
export interface GossipMessage {
  topic: string
  data: Uint8Array
  /** The original publisher's peer id. */
  from: string
  /** The publisher's key id (base64url raw Ed25519 key), for matching envelope authors. */
  fromKeyId: string
}

/**
 * GossipHandler decides a message before it is relayed (and handles it). Must not block
 * and must not throw; may be called concurrently for different messages.
 */
export type GossipHandler = (msg: GossipMessage) => Verdict

/** FrameChannel is one stream between two peers that carries length-delimited frames. */
export interface FrameChannel {
  /** write sends one frame; rejects when the channel's deadline passed or the peer went away. */
  write(frame: Uint8Array): Promise<void>
  /** read receives one frame; rejects past the frame bound or the deadline. */
  read(): Promise<Uint8Array>
  /** close ends the channel cleanly. */
  close(): Promise<void>
}

/**
 * Bounds of a framed protocol: the largest frame, and the deadline of one exchange
 * (timeoutMs: opening, dialling included, and every frame after it). A long-lived channel
 * that carries many exchanges sets idleMs instead: opening keeps timeoutMs's deadline,
 * then the channel fails only after idleMs without a frame read or written, and the
 * protocol times each of its exchanges itself.
 */
export interface ChannelLimits {
  maxFrameBytes: number
  timeoutMs: number
  idleMs?: number
}

/**
 * ChannelHandler serves one inbound channel from `peer`, whose key id `keyId` the
 * transport authenticated (libp2p: the noise handshake proves the peer's Ed25519 key).
 * A rejection aborts the channel.
 */
export type ChannelHandler = (channel: FrameChannel, peer: string, keyId: string) => Promise<void>

/**
 * ProtocolNotSupportedError is what `open` rejects with when the peer answered but does not
 * serve the protocol (an agent of an older version): a caller may fall back to an older one.
 */
export class ProtocolNotSupportedError extends Error {
  constructor(peer: string, protocol: string) {
    super(`${peer} does not serve ${protocol}`)
    this.name = 'ProtocolNotSupportedError'
  }
}

/** Transport is everything protocol components need from the network. */
export interface Transport {
  /** This agent's peer id. */
  readonly peerId: string
  /** addresses are the addresses (with /p2p/ID) peers can dial us on. */
  addresses(): string[]
  /** connectedPeers lists the peers we hold a connection to. */
  connectedPeers(): readonly string[]
  /** publish sends data to the topic's subscribers; a publish with no peers is fine. Throws only for an oversized message. */
  publish(topic: string, data: Uint8Array): Promise<void>
  /** subscribe sets the one handler of a topic (replacing any earlier one). */
  subscribe(topic: string, handler: GossipHandler): void
  /** serve answers channels of `protocol`, at most `maxStreams` at once per connection. */
  serve(protocol: string, handler: ChannelHandler, limits: ChannelLimits & { maxStreams: number }): Promise<void>
  /**
   * open starts a channel of `protocol` to `peer`; when not connected to it, it first dials
   * the first of `addresses` that answers (within the channel's deadline). Rejects with
   * ProtocolNotSupportedError when the peer does not serve `protocol`.
   */
  open(peer: string, protocol: string, limits: ChannelLimits, addresses?: readonly string[]): Promise<FrameChannel>
  /** dial connects to an address, with or without /p2p/ID, within `timeoutMs` (default: the network's dial deadline); resolves to the peer id. */
  dial(addr: string, timeoutMs?: number): Promise<string>
  /** onConnect calls fn for every new connection to a peer. */
  onConnect(fn: (peer: string) => void): void
  /** onDisconnect calls fn when the last connection to a peer closes (a hint, never a verdict). */
  onDisconnect(fn: (peer: string) => void): void
  /** hangUp closes every connection to `peer` (one that stopped carrying frames); the next open or dial makes a new one. */
  hangUp(peer: string): Promise<void>
}
