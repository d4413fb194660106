// The libp2p node: tcp, noise, yamux, pnet (cluster pre-shared key), identify, ping,
// gossipsub with strict signing, bounded RPC decoding, topic allow-list, peer scoring,
// connection limits, optional mDNS, and a connection gater that refuses quarantined
// peers. Network is the production Transport; this folder is the only place that builds
// or imports libp2p (the agent holds its peer key without knowing its type).

import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { createPeerScoreParams, createPeerScoreThresholds, createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { TopicValidatorResult, type Libp2p, type PeerId, type PrivateKey, type PubSub } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import type { Timings } from '../defaults.js'
import { ProtocolNotSupportedError, type ChannelHandler, type ChannelLimits, type FrameChannel, type GossipHandler, type Transport, type Verdict } from '../transport.js'
import { streamChannel } from './channel.js'
import { DECODE_RPC_LIMITS, GOSSIP_MESH, MAX_INBOUND_RPC_BYTES, MAX_MESSAGE_BYTES, Topics } from './constants.js'
import { keyIdOfPeerPublicKey } from './keys.js'
import { OwnAddresses } from './own-addresses.js'
import { halfWindowMuxers } from './window-updates.js'

export type { GossipMessage, Verdict } from '../transport.js'

export interface NetworkOptions {
  privateKey: PrivateKey
  listen: string[]
  psk: Uint8Array
  mdns: boolean
  maxConnections: number
  /** dialTimeoutMs bounds each dial. */
  timings: Pick<Timings, 'network'>
  logger: Logger
}

type Services = { pubsub: PubSub<GossipsubEvents>; identify: unknown; ping: unknown }

const VERDICTS: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
}

const TOPICS: ReadonlySet<string> = new Set(Object.values(Topics))

/**
 * How long our own addresses are reused before libp2p is asked again, when it has not said
 * they changed (its self:peer:update event clears them at once). Working them out (listen
 * addresses expanded over the interfaces, observed ones, multiaddr parsing) cost an idle agent
 * about 6 % of its CPU when membership asked every protocol period (docs/idle-cost.md).
 */
const ADDRESSES_REUSED_MS = 5000

/** Network is the Transport over the libp2p node. */
export class Network implements Transport {
  private readonly node: Libp2p<Services>
  private readonly log: Logger
  private readonly timings: Pick<Timings, 'network'>
  /** Peers the gater refuses (see refuse). Shared with the gater built in create. */
  private readonly refused: Set<string>
  /** The handler of each topic; a topic without one ignores what arrives. */
  private readonly handlers = new Map<string, GossipHandler>()
  /** Our addresses as last worked out, and when (performance.now()); undefined once libp2p says they changed. */
  private own: { addresses: string[]; at: number } | undefined
  /** The connected peers as last listed; undefined once a connection opened or closed. */
  private connected: readonly string[] | undefined

  private constructor(node: Libp2p<Services>, opts: NetworkOptions, refused: Set<string>) {
    this.node = node
    this.log = opts.logger
    this.timings = opts.timings
    this.refused = refused
  }

  /** create builds and starts the libp2p node; a failed start stops what started. */
  static async create(opts: NetworkOptions): Promise<Network> {
    const refused = new Set<string>()
    const own = new OwnAddresses()
    const topicParams = createTopicScoreParams({
      topicWeight: 1,
      timeInMeshWeight: 0.01,
      timeInMeshQuantum: 1000,
      timeInMeshCap: 100,
      firstMessageDeliveriesWeight: 1,
      firstMessageDeliveriesCap: 100,
      // Our topics carry few messages: never punish a peer for a quiet mesh.
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: -20,
      invalidMessageDeliveriesDecay: 0.5,
    })
    const node = await createLibp2p({
      privateKey: opts.privateKey,
      // Loopback addresses are not announced beside others, and our own are never dialled (own-addresses.ts).
      addresses: { listen: opts.listen, announceFilter: own.announce },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      // No yamux keep-alive ping each way on every connection every 30 s: it only measures the
      // round trip (a lost pong closes nothing), and at ~0.5 ms of CPU a frame it costs an idle
      // agent with 16 connections about 1 ms/s (worked out from that figure; only this change
      // and the reuse of our addresses were measured, together). Every connection to a member carries probes anyway,
      // each way within a round of the protocol period (docs/idle-cost.md).
      // Every stream (ours, gossipsub's, identify's) sends window updates only at half (window-updates.ts).
      streamMuxers: [halfWindowMuxers(yamux({ enableKeepAlive: false }))],
      // The default 1 s handshake timeout fails joins on a busy small host.
      connectionProtector: preSharedKey({ psk: opts.psk, timeout: 10_000 }),
      connectionManager: {
        maxConnections: opts.maxConnections,
        // Hosts behind one NAT (or agents on one machine) share an address, and under load
        // an inbound upgrade can time out after it was counted as pending (the count then
        // never comes down): keep both limits well above what a fleet's churn needs.
        maxIncomingPendingConnections: 64,
        inboundConnectionThreshold: 100,
        maxParallelDials: 16,
        dialTimeout: 10_000,
        inboundUpgradeTimeout: 10_000,
      },
      // No ping stream per connection every few seconds: the failure detector's probes find
      // dead connections (a member acked through others but not through us is hung up on,
      // agent/membership/detector.ts). The ping service still answers, for older agents.
      connectionMonitor: { enabled: false },
      connectionGater: {
        denyDialPeer: (peer: PeerId) => refused.has(peer.toString()),
        denyDialMultiaddr: (ma) => own.isOwn(ma),
        denyInboundEncryptedConnection: (peer: PeerId) => refused.has(peer.toString()),
        denyOutboundEncryptedConnection: (peer: PeerId) => refused.has(peer.toString()),
      },
      // Loaded only when configured: nothing an agent does not use stays resident.
      peerDiscovery: opts.mdns ? [(await import('@libp2p/mdns')).mdns({ interval: 5000 })] : [],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          ...GOSSIP_MESH,
          floodPublish: false,
          // Recognise duplicates before the signature check (gossipsub verifies first
          // otherwise): the id is the strict-sign message id, cached only once verified.
          fastMsgIdFn: (m) => `${Buffer.from(m.from ?? []).toString('base64')}:${Buffer.from(m.seqno ?? []).toString('base64')}`,
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          allowedTopics: Object.values(Topics),
          decodeRpcLimits: DECODE_RPC_LIMITS,
          maxInboundDataLength: MAX_INBOUND_RPC_BYTES,
          doPX: false,
          scoreParams: createPeerScoreParams({
            topics: Object.fromEntries(Object.values(Topics).map((t) => [t, topicParams])),
            // Hosts behind one NAT (or tests on loopback) share an address: do not penalise that.
            IPColocationFactorWeight: 0,
          }),
          scoreThresholds: createPeerScoreThresholds({ gossipThreshold: -50, publishThreshold: -100, graylistThreshold: -200 }),
        }),
      },
    })
    const net = new Network(node, opts, refused)
    try {
      net.wire()
      if (opts.mdns) {
        node.addEventListener('peer:discovery', (evt) => {
          void node.dial(evt.detail.id).catch((err: unknown) => net.log.debug({ err, peer: evt.detail.id.toString() }, 'mdns dial failed'))
        })
      }
      if (node.status !== 'started') await node.start()
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => undefined)
      throw err
    }
    return net
  }

  /** wire installs one validator per topic, which checks what gossipsub leaves to us and hands the message to the topic's handler. */
  private wire(): void {
    const pubsub = this.node.services.pubsub
    for (const topic of TOPICS) {
      pubsub.topicValidators.set(topic, (_peer, msg) => {
        if (msg.type !== 'signed' || msg.data.length > MAX_MESSAGE_BYTES) return TopicValidatorResult.Reject
        const raw = msg.from.publicKey?.raw
        if (raw === undefined) return TopicValidatorResult.Reject
        const handler = this.handlers.get(msg.topic)
        if (handler === undefined) return TopicValidatorResult.Ignore
        return VERDICTS[handler({ topic: msg.topic, data: msg.data, from: msg.from.toString(), fromKeyId: keyIdOfPeerPublicKey(raw) })]
      })
      pubsub.subscribe(topic)
    }
    this.node.addEventListener('self:peer:update', () => (this.own = undefined))
    // Before any onConnect or onDisconnect listener: theirs see the list as it is now.
    for (const event of ['connection:open', 'connection:close', 'peer:connect', 'peer:disconnect'] as const) this.node.addEventListener(event, () => (this.connected = undefined))
  }

  get peerId(): string {
    return this.node.peerId.toString()
  }

  /** addresses are the multiaddrs (with /p2p/ID) peers can dial us on. */
  addresses(): string[] {
    const now = performance.now()
    if (this.own === undefined || now - this.own.at > ADDRESSES_REUSED_MS) this.own = { addresses: this.node.getMultiaddrs().map((a) => a.toString()), at: now }
    return [...this.own.addresses]
  }

  /** subscribe sets the handler of one of our topics (Topics); it decides every message before gossipsub relays it. */
  subscribe(topic: string, handler: GossipHandler): void {
    if (!TOPICS.has(topic)) throw new Error(`topic ${topic} is not one of ours`)
    this.handlers.set(topic, handler)
  }

  /**
   * publish sends data on a topic. Throws for a message over MAX_MESSAGE_BYTES; any other
   * failure (no peers, gossipsub refusing) is logged at debug and swallowed.
   */
  async publish(topic: string, data: Uint8Array): Promise<void> {
    if (data.length > MAX_MESSAGE_BYTES) throw new Error(`message of ${data.length} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    try {
      await this.node.services.pubsub.publish(topic, data)
    } catch (err) {
      this.log.debug({ err, topic }, 'publish failed')
    }
  }

  /** dial connects to a multiaddr, with or without /p2p/ID, within `timeoutMs` (default dialTimeoutMs); returns the peer id. */
  async dial(addr: string, timeoutMs = this.timings.network.dialTimeoutMs): Promise<string> {
    const conn = await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) })
    return conn.remotePeer.toString()
  }

  /**
   * connectedPeers lists the peers we hold a connection to. The list is kept until a
   * connection opens or closes: the failure detector asks several times a period, and
   * listing afresh (every connection's peer id as text) was a tenth of what an idle agent
   * of 20 allocates.
   */
  connectedPeers(): readonly string[] {
    this.connected ??= [...new Set(this.node.getConnections().map((c) => c.remotePeer.toString()))]
    return this.connected
  }

  /** topicPeers lists the gossipsub peers subscribed to a topic. */
  topicPeers(topic: string): string[] {
    return this.node.services.pubsub.getSubscribers(topic).map((p) => p.toString())
  }

  /** onConnect calls fn with the peer id of every peer we gain a first connection to. */
  onConnect(fn: (peer: string) => void): void {
    this.node.addEventListener('peer:connect', (evt) => fn(evt.detail.toString()))
  }

  /** onDisconnect calls fn with the peer id of every peer whose last connection closed. */
  onDisconnect(fn: (peer: string) => void): void {
    this.node.addEventListener('peer:disconnect', (evt) => fn(evt.detail.toString()))
  }

  /**
   * serve answers streams of `protocol` as frame channels, each with its own deadline; a
   * handler that fails has its stream aborted, one that returns has it closed.
   */
  async serve(protocol: string, handler: ChannelHandler, limits: ChannelLimits & { maxStreams: number }): Promise<void> {
    await this.node.handle(
      protocol,
      ({ stream, connection }) => {
        const raw = connection.remotePeer.publicKey?.raw
        if (raw === undefined) {
          stream.abort(new Error('the peer has no Ed25519 key'))
          return
        }
        const channel = streamChannel(stream, limits, limits.idleMs === undefined ? AbortSignal.timeout(limits.timeoutMs) : undefined)
        void handler(channel, connection.remotePeer.toString(), keyIdOfPeerPublicKey(raw))
          .then(() => channel.close())
          .catch((err: unknown) => {
            this.log.debug({ err, protocol }, 'stream handler failed')
            stream.abort(err instanceof Error ? err : new Error(String(err)))
          })
      },
      { maxInboundStreams: limits.maxStreams },
    )
  }

  /**
   * open starts a frame channel of `protocol` to `peer`, dialling the first of `addresses`
   * that answers when not connected; the deadline covers dialling and opening.
   */
  async open(peer: string, protocol: string, limits: ChannelLimits, addresses: readonly string[] = []): Promise<FrameChannel> {
    const deadline = AbortSignal.timeout(limits.timeoutMs)
    let conn = this.node.getConnections().find((c) => c.remotePeer.toString() === peer)
    for (const addr of addresses) {
      if (conn !== undefined) break
      if (!addr.endsWith(`/p2p/${peer}`)) continue
      conn = await this.node.dial(multiaddr(addr), { signal: deadline }).catch((err: unknown) => {
        this.log.debug({ err, addr }, 'dial failed')
        return undefined
      })
    }
    if (conn === undefined) throw new Error(`not connected to ${peer}`)
    const stream = await conn.newStream(protocol, { signal: deadline }).catch((err: unknown) => {
      // multistream-select: the peer lists no such protocol (an older agent).
      throw err instanceof Error && err.name === 'UnsupportedProtocolError' ? new ProtocolNotSupportedError(peer, protocol) : err
    })
    return streamChannel(stream, limits, limits.idleMs === undefined ? deadline : undefined)
  }

  /** hangUp closes every connection to `peer`; the next open or dial makes a new one. */
  async hangUp(peer: string): Promise<void> {
    await Promise.all(
      this.node
        .getConnections()
        .filter((c) => c.remotePeer.toString() === peer)
        .map((c) => c.close().catch(() => undefined)),
    )
  }

  /**
   * refuse replaces the set of refused peers: peers whose connections the gater refuses
   * (dials, inbound and outbound) and whose open connections are closed now. Quarantines
   * a host; an empty set lifts every refusal.
   */
  async refuse(peers: Iterable<string>): Promise<void> {
    this.refused.clear()
    for (const p of peers) this.refused.add(p)
    await Promise.all(
      this.node
        .getConnections()
        .filter((c) => this.refused.has(c.remotePeer.toString()))
        .map((c) => c.close().catch(() => undefined)),
    )
  }

  /** stop closes every connection and the libp2p node. */
  async stop(): Promise<void> {
    await this.node.stop()
  }
}
