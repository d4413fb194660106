// Anti-entropy: every period (and as soon as a connection appears), compare maps with
// one random connected peer over a framed channel — summaries first, then only the
// envelopes that differ — so partitions, restarts and late joins heal even when gossip
// missed a message. The same exchange carries the store and the node records. It owns no
// timers or sockets: the period comes from the Clock, channels from the Transport.
//
// The exchange, three frames of JSON on one channel (schemas below):
//   1. initiator -> responder  offer:  each map's summary (key -> version)
//   2. responder -> initiator  answer: per map, envelopes the initiator lacks (send) and keys it may hold newer (want)
//   3. initiator -> responder  final:  per map, the envelopes asked for

import type { Logger } from 'pino'
import { z } from 'zod'
import type { LwwMap } from '../../core/crdt.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import { MAX_SYNC_FRAME_BYTES, SYNC_PROTOCOL } from '../network/constants.js'
import type { ChannelLimits, FrameChannel, Transport } from '../transport.js'

/** A map taking part in anti-entropy, with how to merge what a peer sends. */
export interface SyncedMap {
  name: 'store' | 'nodes'
  map: LwwMap
  merge: (envelopes: unknown[]) => Promise<number>
}

const summarySchema = z.record(z.string().max(600), z.string().max(256))
const offerSchema = z.object({ store: summarySchema, nodes: summarySchema }).strict()
const answerSchema = z
  .object({
    store: z.object({ send: z.array(z.unknown()).max(100_000), want: z.array(z.string().max(600)).max(100_000) }).strict(),
    nodes: z.object({ send: z.array(z.unknown()).max(100_000), want: z.array(z.string().max(600)).max(100_000) }).strict(),
  })
  .strict()
const finalSchema = z.object({ store: z.array(z.unknown()).max(100_000), nodes: z.array(z.unknown()).max(100_000) }).strict()

const encode = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
const decode = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b))

export interface SyncOptions {
  transport: Transport
  clock: Clock
  maps: [SyncedMap, SyncedMap]
  periodMs: number
  /** exchangeTimeoutMs bounds one exchange, maxInboundExchanges those served at once per connection. */
  timings: Pick<Timings, 'sync'>
  metrics: Metrics
  log: Logger
}

/** AntiEntropy runs the periodic exchange and answers peers' exchanges. */
export class AntiEntropy {
  private readonly opts: SyncOptions
  private readonly limits: ChannelLimits
  private timer: Timer | undefined
  private running = false
  private stopped = false

  constructor(opts: SyncOptions) {
    this.opts = opts
    this.limits = { maxFrameBytes: MAX_SYNC_FRAME_BYTES, timeoutMs: opts.timings.sync.exchangeTimeoutMs }
  }

  /** start answers peers' exchanges, then starts a round every period and on every new connection. */
  async start(): Promise<void> {
    await this.opts.transport.serve(SYNC_PROTOCOL, (channel, peer) => this.answer(channel, peer), { ...this.limits, maxStreams: this.opts.timings.sync.maxInboundExchanges })
    this.timer = this.opts.clock.every(this.opts.periodMs, () => void this.round())
    // A newcomer syncs as soon as it has its first connection.
    this.opts.transport.onConnect(() => void this.round())
  }

  /** stop ends the rounds this side starts; peers' exchanges are still answered until the transport stops. */
  stop(): void {
    this.stopped = true
    this.timer?.cancel()
  }

  /** round exchanges state with `peer`, or one random connected peer; at most one round at a time. Never throws. */
  async round(peer?: string): Promise<void> {
    if (this.running || this.stopped) return
    const peers = this.opts.transport.connectedPeers()
    const target = peer ?? peers[Math.floor(Math.random() * peers.length)]
    if (target === undefined) return
    this.running = true
    try {
      await this.initiate(target)
      this.opts.metrics.syncs.inc({ role: 'initiator', result: 'ok' })
    } catch (err) {
      this.opts.metrics.syncs.inc({ role: 'initiator', result: 'error' })
      this.opts.log.debug({ err, peer: target }, 'anti-entropy round failed')
    } finally {
      this.running = false
    }
  }

  private byName(name: 'store' | 'nodes'): SyncedMap {
    return this.opts.maps[0].name === name ? this.opts.maps[0] : this.opts.maps[1]
  }

  private async initiate(peer: string): Promise<void> {
    const channel = await this.opts.transport.open(peer, SYNC_PROTOCOL, this.limits)
    try {
      await channel.write(encode({ store: this.byName('store').map.summary(), nodes: this.byName('nodes').map.summary() }))
      const answer = answerSchema.parse(decode(await channel.read()))
      const final: Record<'store' | 'nodes', unknown[]> = { store: [], nodes: [] }
      let got = 0
      for (const name of ['store', 'nodes'] as const) {
        const m = this.byName(name)
        got += await m.merge(answer[name].send)
        final[name] = answer[name].want.flatMap((k) => {
          const e = m.map.get(k)
          return e === undefined ? [] : [e]
        })
      }
      await channel.write(encode(final))
      await channel.close()
      if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
    } catch (err) {
      // Release the channel (a peer's answer that fails its schema leaves it open otherwise).
      await channel.close().catch(() => undefined)
      throw err
    }
  }

  private async answer(channel: FrameChannel, peer: string): Promise<void> {
    const offer = offerSchema.parse(decode(await channel.read()))
    const answer = { store: this.byName('store').map.diff(offer.store), nodes: this.byName('nodes').map.diff(offer.nodes) }
    await channel.write(encode(answer))
    const final = finalSchema.parse(decode(await channel.read()))
    const got = (await this.byName('store').merge(final.store)) + (await this.byName('nodes').merge(final.nodes))
    await channel.close()
    this.opts.metrics.syncs.inc({ role: 'responder', result: 'ok' })
    if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
  }
}
