// The libp2p node: tcp, noise, yamux, pnet (cluster pre-shared key), identify, ping,
// gossipsub with strict signing, bounded RPC decoding, topic allow-list, peer scoring,
// connection limits, optional mDNS. The only file that builds libp2p.

import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { createPeerScoreParams, createPeerScoreThresholds, createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { TopicValidatorResult, type Connection, type Libp2p, type PeerId, type PrivateKey, type PubSub, type Stream } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { preSharedKey } from '@libp2p/pnet'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import { DECODE_RPC_LIMITS, MAX_INBOUND_RPC_BYTES, MAX_MESSAGE_BYTES, Topics } from './constants.js'
import { keyIdOfPeerPublicKey } from './keys.js'

/** Verdict of a topic validator: accept and relay, ignore (drop quietly), or reject (drop and penalise the sender). */
export type Verdict = 'accept' | 'ignore' | 'reject'

/** A received gossip message, after gossipsub verified its signature. */
export interface GossipMessage {
  topic: string
  data: Uint8Array
  /** The original publisher (strict signing makes this authentic). */
  from: string
  /** The publisher's key id (base64url raw Ed25519 key), for matching envelope authors. */
  fromKeyId: string
}

export interface NetworkOptions {
  privateKey: PrivateKey
  listen: string[]
  psk: Uint8Array
  mdns: boolean
  maxConnections: number
  logger: Logger
  /**
   * validate decides every message on our topics before gossipsub relays it. Must not
   * throw; called concurrently for different messages.
   */
  validate: (msg: GossipMessage) => Verdict
}

type Services = { pubsub: PubSub<GossipsubEvents>; identify: unknown; ping: unknown }

const VERDICTS: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
}

/** Network wraps the libp2p node with the few operations the agent needs. */
export class Network {
  readonly node: Libp2p<Services>
  private readonly log: Logger
  private readonly denied = new Set<string>()

  private constructor(node: Libp2p<Services>, log: Logger, denied: Set<string>) {
    this.node = node
    this.log = log
    this.denied = denied
  }

  /** create builds and starts the libp2p node; a failed start stops what started. */
  static async create(opts: NetworkOptions): Promise<Network> {
    const denied = new Set<string>()
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
      addresses: { listen: opts.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
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
      // Dead connections (a host cut off without a FIN) are found by ping; a busy host may
      // answer slowly, so the timeout floor is generous.
      connectionMonitor: { pingInterval: 10_000, pingTimeout: { minTimeout: 5000, maxTimeout: 30_000 } },
      connectionGater: {
        denyDialPeer: (peer: PeerId) => denied.has(peer.toString()),
        denyInboundEncryptedConnection: (peer: PeerId) => denied.has(peer.toString()),
        denyOutboundEncryptedConnection: (peer: PeerId) => denied.has(peer.toString()),
      },
      peerDiscovery: opts.mdns ? [mdns({ interval: 5000 })] : [],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          // Every node record is a message: a smaller mesh and no flood-publishing keep the
          // duplicates (each one decrypted twice, by pnet and noise) down on small hosts.
          D: 4,
          Dlo: 3,
          Dhi: 6,
          Dout: 1,
          Dlazy: 4,
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
    const net = new Network(node, opts.logger, denied)
    try {
      net.wire(opts)
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

  private wire(opts: NetworkOptions): void {
    const pubsub = this.node.services.pubsub
    for (const topic of Object.values(Topics)) {
      pubsub.topicValidators.set(topic, (_peer, msg) => {
        if (msg.type !== 'signed' || msg.data.length > MAX_MESSAGE_BYTES) return TopicValidatorResult.Reject
        const raw = msg.from.publicKey?.raw
        if (raw === undefined) return TopicValidatorResult.Reject
        return VERDICTS[opts.validate({ topic: msg.topic, data: msg.data, from: msg.from.toString(), fromKeyId: keyIdOfPeerPublicKey(raw) })]
      })
      pubsub.subscribe(topic)
    }
  }

  get peerId(): string {
    return this.node.peerId.toString()
  }

  /** addresses are the multiaddrs (with /p2p/ID) peers can dial us on. */
  addresses(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  /** publish sends data on a topic; never throws (a publish with no peers is fine). */
  async publish(topic: string, data: Uint8Array): Promise<void> {
    if (data.length > MAX_MESSAGE_BYTES) throw new Error(`message of ${data.length} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    try {
      await this.node.services.pubsub.publish(topic, data)
    } catch (err) {
      this.log.debug({ err, topic }, 'publish failed')
    }
  }

  /** dial connects to a multiaddr, with or without /p2p/ID; returns the peer id. */
  async dial(addr: string | Multiaddr): Promise<string> {
    const conn = await this.node.dial(typeof addr === 'string' ? multiaddr(addr) : addr, { signal: AbortSignal.timeout(5000) })
    return conn.remotePeer.toString()
  }

  /** connectedPeers lists the peers we hold a connection to. */
  connectedPeers(): string[] {
    return [...new Set(this.node.getConnections().map((c: Connection) => c.remotePeer.toString()))]
  }

  /** meshPeers lists the gossipsub peers subscribed to a topic. */
  topicPeers(topic: string): string[] {
    return this.node.services.pubsub.getSubscribers(topic).map((p) => p.toString())
  }

  /** handle registers a stream protocol handler. */
  async handle(protocol: string, handler: (stream: Stream, peer: string) => Promise<void>, maxInboundStreams = 8): Promise<void> {
    await this.node.handle(
      protocol,
      ({ stream, connection }) => {
        void handler(stream, connection.remotePeer.toString()).catch((err: unknown) => {
          this.log.debug({ err, protocol }, 'stream handler failed')
          stream.abort(err instanceof Error ? err : new Error(String(err)))
        })
      },
      { maxInboundStreams },
    )
  }

  /** openStream opens a protocol stream to a connected peer. */
  async openStream(peer: string, protocol: string): Promise<Stream> {
    const conn = this.node.getConnections().find((c) => c.remotePeer.toString() === peer)
    if (conn === undefined) throw new Error(`not connected to ${peer}`)
    return conn.newStream(protocol, { signal: AbortSignal.timeout(5000) })
  }

  /**
   * setDenied replaces the set of peers the connection gater refuses, and closes open
   * connections to them. Used to cut an agent off (partition tests, and operators
   * quarantining a host).
   */
  async setDenied(peers: Iterable<string>): Promise<void> {
    this.denied.clear()
    for (const p of peers) this.denied.add(p)
    await Promise.all(
      this.node
        .getConnections()
        .filter((c) => this.denied.has(c.remotePeer.toString()))
        .map((c) => c.close().catch(() => undefined)),
    )
  }

  async stop(): Promise<void> {
    await this.node.stop()
  }
}
