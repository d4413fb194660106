// Anti-entropy: every period, compare maps with one random connected peer over a stream
// protocol — summaries first, then only the envelopes that differ — so partitions,
// restarts and late joins heal even when gossip missed a message. The same exchange
// carries the store and the node records.

import { lpStream } from 'it-length-prefixed-stream'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { LwwMap } from '../../core/crdt.js'
import type { Metrics } from '../metrics.js'
import { MAX_SYNC_FRAME_BYTES, SYNC_PROTOCOL } from '../network/constants.js'
import type { Network } from '../network/network.js'

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
const decode = (b: { subarray(): Uint8Array }): unknown => JSON.parse(new TextDecoder().decode(b.subarray()))

export interface SyncOptions {
  network: Network
  maps: [SyncedMap, SyncedMap]
  periodMs: number
  metrics: Metrics
  log: Logger
}

/** AntiEntropy runs the periodic exchange and answers peers' exchanges. */
export class AntiEntropy {
  private readonly opts: SyncOptions
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor(opts: SyncOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    await this.opts.network.handle(SYNC_PROTOCOL, (stream, peer) => this.answer(stream, peer), 4)
    this.timer = setInterval(() => void this.round(), this.opts.periodMs)
    // A newcomer syncs as soon as it has its first connection.
    this.opts.network.node.addEventListener('peer:connect', () => void this.round())
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** round exchanges state with one random connected peer; at most one round at a time. */
  async round(peer?: string): Promise<void> {
    if (this.running) return
    const peers = this.opts.network.connectedPeers()
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
    const stream = await this.opts.network.openStream(peer, SYNC_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    const signal = AbortSignal.timeout(10_000)
    await lp.write(encode({ store: this.byName('store').map.summary(), nodes: this.byName('nodes').map.summary() }), { signal })
    const answer = answerSchema.parse(decode(await lp.read({ signal })))
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
    await lp.write(encode(final), { signal })
    await stream.close({ signal })
    if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
  }

  private async answer(stream: Parameters<Parameters<Network['handle']>[1]>[0], peer: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
    const signal = AbortSignal.timeout(10_000)
    const offer = offerSchema.parse(decode(await lp.read({ signal })))
    const answer = { store: this.byName('store').map.diff(offer.store), nodes: this.byName('nodes').map.diff(offer.nodes) }
    await lp.write(encode(answer), { signal })
    const final = finalSchema.parse(decode(await lp.read({ signal })))
    const got = (await this.byName('store').merge(final.store)) + (await this.byName('nodes').merge(final.nodes))
    await stream.close({ signal })
    this.opts.metrics.syncs.inc({ role: 'responder', result: 'ok' })
    if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
  }
}
