// Anti-entropy: every period (and as soon as a connection appears), compare maps with
// one random connected peer over a framed channel — digests first, then summaries of the
// buckets that differ, then only the envelopes that differ — so partitions, restarts and
// late joins heal even when gossip missed a message. The same exchange carries the store
// and the node records. Two agents that agree exchange two small frames whatever the maps'
// sizes. It owns no timers or sockets: the period comes from the Clock, channels from the
// Transport.
//
// The exchange, up to five frames of JSON on one channel (schemas below; docs/architecture.md
// "Anti-entropy" has sizes):
//   1. initiator -> responder  offer:     per map, the digest root and the number of entries
//   2. responder -> initiator  buckets:   per map, "equal", or a level and its bucket hashes there
//                                         (when both are "equal", the exchange ends here)
//   3. initiator -> responder  summaries: per map, the buckets whose hashes differ and their (key, hlc, tag) entries
//   4. responder -> initiator  answer:    per map, envelopes of those buckets the initiator lacks (send), keys it may hold newer (want)
//   5. initiator -> responder  final:     per map, the envelopes asked for (only when something was asked)
// Every frame is checked against its schema and SYNC_LIMITS; a frame that fails ends the
// exchange (the next round starts over), and each side sends only what it was asked.

import type { Logger } from 'pino'
import { z } from 'zod'
import type { LwwMap, SummaryEntry } from '../../core/crdt.js'
import { BUCKET_HASH_BYTES, DIGEST_BITS, MIN_DIGEST_LEVEL, bucketOf, differingBuckets, digestLevel } from '../../core/digest.js'
import { MAX_KEY_LENGTH, type Envelope } from '../../core/envelope.js'
import type { Clock, Timer } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import { MAX_SYNC_FRAME_BYTES, SYNC_LIMITS, SYNC_PROTOCOL } from '../network/constants.js'
import type { ChannelLimits, FrameChannel, Transport } from '../transport.js'
import { PeerBudget } from './sync-budget.js'

/** A map taking part in anti-entropy, with how to merge what a peer sends. */
export interface SyncedMap {
  name: 'store' | 'nodes'
  map: LwwMap
  /** merge takes the envelopes a peer sent and returns how many it applied. May be called concurrently: exchanges overlap (one initiated, several answered). */
  merge: (envelopes: unknown[]) => Promise<number>
}

type MapName = 'store' | 'nodes'
const NAMES = ['store', 'nodes'] as const

/** SyncFrameError is thrown when a peer's anti-entropy frame is not JSON, breaks its schema or exceeds SYNC_LIMITS. */
export class SyncFrameError extends Error {
  override readonly name = 'SyncFrameError'
}

const level = z.number().int().min(MIN_DIGEST_LEVEL).max(DIGEST_BITS)
const hlc = z.string().regex(/^[0-9]{15}\.[0-9]{6}$/)

const mapOffer = z.object({ root: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().min(0).max(2 ** 31) }).strict()
const offerSchema = z.object({ store: mapOffer, nodes: mapOffer }).strict()

const mapView = z.union([
  z.literal('equal'),
  z
    .object({ level, buckets: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/).max(Math.ceil((BUCKET_HASH_BYTES << DIGEST_BITS) / 3) * 4) })
    .strict()
    .refine((v) => Buffer.from(v.buckets, 'base64').length === BUCKET_HASH_BYTES << v.level, { message: `buckets must hold ${BUCKET_HASH_BYTES} bytes per bucket of the level` }),
])
const bucketsSchema = z.object({ store: mapView, nodes: mapView }).strict()
type MapView = z.infer<typeof mapView>

const summaryEntry = z.tuple([z.string().min(1).max(MAX_KEY_LENGTH), hlc, z.string().regex(/^[A-Za-z0-9_-]{11}$/)])
const mapSummary = z
  .object({
    buckets: z
      .array(z.number().int().min(0).max((1 << DIGEST_BITS) - 1))
      .max(1 << DIGEST_BITS)
      .refine((b) => new Set(b).size === b.length, { message: 'buckets are listed once' }),
    entries: z.array(summaryEntry).max(SYNC_LIMITS.maxSummaryEntries),
  })
  .strict()
const summariesSchema = z.object({ store: mapSummary, nodes: mapSummary }).strict()
type MapSummary = z.infer<typeof mapSummary>

const envelopes = z.array(z.unknown()).max(SYNC_LIMITS.maxEnvelopes)
const mapAnswer = z.object({ send: envelopes, want: z.array(z.string().max(MAX_KEY_LENGTH)).max(SYNC_LIMITS.maxSummaryEntries) }).strict()
const answerSchema = z.object({ store: mapAnswer, nodes: mapAnswer }).strict()
const finalSchema = z.object({ store: envelopes, nodes: envelopes }).strict()

const encode = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

/** parseFrame decodes one frame as JSON and checks it against `schema`; throws SyncFrameError. */
function parseFrame<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, frame: Uint8Array, what: string): T {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(frame))
  } catch {
    throw new SyncFrameError(`${what} frame is not JSON`)
  }
  const r = schema.safeParse(json)
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new SyncFrameError(`${what} frame refused: ${issues.join('; ')}`)
  }
  return r.data
}

/** checkSummary refuses a summary that does not fit the view the responder sent: buckets of its level, entries in those buckets. */
function checkSummary(name: MapName, view: MapView, summary: MapSummary): void {
  if (view === 'equal') {
    if (summary.buckets.length > 0 || summary.entries.length > 0) throw new SyncFrameError(`summaries frame refused: ${name} was equal`)
    return
  }
  const listed = new Set(summary.buckets)
  if (summary.buckets.some((b) => b >= 1 << view.level)) throw new SyncFrameError(`summaries frame refused: ${name} bucket beyond level ${view.level}`)
  if (summary.entries.some(([key]) => !listed.has(bucketOf(key, view.level)))) throw new SyncFrameError(`summaries frame refused: ${name} entry outside the listed buckets`)
}

/** withinBudget returns the leading envelopes that fit SYNC_LIMITS (count and encoded bytes); the rest wait for a later round. */
function withinBudget(envs: readonly Envelope[]): Envelope[] {
  const out: Envelope[] = []
  let bytes = 0
  for (const e of envs) {
    const size = Buffer.byteLength(JSON.stringify(e))
    if (out.length >= SYNC_LIMITS.maxEnvelopes || bytes + size > SYNC_LIMITS.maxEnvelopeBytes) break
    bytes += size
    out.push(e)
  }
  return out
}

/** shuffled returns `xs` in random order, so that a round capped by SYNC_LIMITS does not always repair the same buckets first. */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

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
  /** Monotonic time of the last exchange a differing fingerprint started. */
  private nudgedAt = -Infinity
  /** What each peer may make this responder do per interval (sync-budget.ts). */
  private readonly budget = new PeerBudget()

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

  /** fingerprint is this agent's state in 16 hex digits (the first 8 of each map's digest root), carried by probe acks. */
  fingerprint(): string {
    return `${this.opts.maps[0].map.digest().slice(0, 8)}${this.opts.maps[1].map.digest().slice(0, 8)}`
  }

  /**
   * differs is told that `peer`'s fingerprint is not ours: an exchange with it starts now,
   * unless one started less than nudgeSpacingMs ago (while a change spreads, fingerprints
   * differ for a moment everywhere). Never throws.
   */
  differs(peer: string): void {
    const now = this.opts.clock.mono()
    if (this.stopped || this.running || now - this.nudgedAt < this.opts.timings.sync.nudgeSpacingMs) return
    this.nudgedAt = now
    this.opts.metrics.syncNudges.inc()
    void this.round(peer)
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

  private byName(name: MapName): SyncedMap {
    return this.opts.maps[0].name === name ? this.opts.maps[0] : this.opts.maps[1]
  }

  private async initiate(peer: string): Promise<void> {
    const channel = await this.opts.transport.open(peer, SYNC_PROTOCOL, this.limits)
    try {
      // 1. offer
      const offer = { store: this.offerOf('store'), nodes: this.offerOf('nodes') }
      await channel.write(encode(offer))
      // 2. buckets
      const views = parseFrame(bucketsSchema, await channel.read(), 'buckets')
      if (views.store === 'equal' && views.nodes === 'equal') {
        await channel.close()
        return
      }
      // 3. summaries of the buckets that differ
      const summaries = { store: this.summarize('store', views.store), nodes: this.summarize('nodes', views.nodes) }
      await channel.write(encode(summaries))
      // 4. answer
      const answer = parseFrame(answerSchema, await channel.read(), 'answer')
      let got = 0
      const final: Record<MapName, Envelope[]> = { store: [], nodes: [] }
      for (const name of NAMES) {
        const m = this.byName(name)
        got += await m.merge(answer[name].send)
        // Only keys we summarised: a responder cannot make us send what it was not shown.
        const shown = new Set(summaries[name].entries.map(([key]) => key))
        final[name] = withinBudget(answer[name].want.flatMap((k) => (shown.has(k) ? (m.map.get(k) ?? []) : [])))
      }
      // 5. final, only when the responder asked for something (it reads no final otherwise).
      if (answer.store.want.length + answer.nodes.want.length > 0) await channel.write(encode(final))
      await channel.close()
      if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
    } catch (err) {
      // Release the channel (a peer's frame that fails its schema leaves it open otherwise).
      await channel.close().catch(() => undefined)
      throw err
    }
  }

  private async answer(channel: FrameChannel, peer: string): Promise<void> {
    const refused = this.budget.admit(peer, this.opts.clock.mono())
    if (refused !== undefined) {
      if (refused.first) this.opts.log.warn({ peer, reason: refused.reason }, 'anti-entropy exchange refused: the peer is over its budget')
      this.opts.metrics.syncs.inc({ role: 'responder', result: 'refused' })
      await channel.close()
      return
    }
    const write = async (frame: Uint8Array): Promise<void> => {
      this.budget.spend(peer, frame.length)
      await channel.write(frame)
    }
    // 1. offer -> 2. buckets
    const offer = parseFrame(offerSchema, await channel.read(), 'offer')
    const views = { store: this.viewOf('store', offer.store), nodes: this.viewOf('nodes', offer.nodes) }
    await write(encode(views))
    if (views.store === 'equal' && views.nodes === 'equal') {
      await channel.close()
      this.opts.metrics.syncs.inc({ role: 'responder', result: 'ok' })
      return
    }
    // 3. summaries -> 4. answer: only the buckets asked about, within SYNC_LIMITS.
    const summaries = parseFrame(summariesSchema, await channel.read(), 'summaries')
    const answer: Record<MapName, { send: Envelope[]; want: string[] }> = { store: { send: [], want: [] }, nodes: { send: [], want: [] } }
    for (const name of NAMES) {
      const view = views[name]
      checkSummary(name, view, summaries[name])
      if (view === 'equal') continue
      const d = this.byName(name).map.diff(view.level, summaries[name].buckets, summaries[name].entries, SYNC_LIMITS.maxEnvelopes)
      answer[name] = { send: withinBudget(d.send), want: d.want }
    }
    await write(encode(answer))
    // 5. final, when we asked for anything: only the keys asked for are taken.
    let got = 0
    if (answer.store.want.length + answer.nodes.want.length > 0) {
      const final = parseFrame(finalSchema, await channel.read(), 'final')
      const asked = (name: MapName): unknown[] => {
        const want = new Set(answer[name].want)
        return final[name].filter((e) => want.has((e as { key?: unknown } | null)?.key as string))
      }
      got = (await this.byName('store').merge(asked('store'))) + (await this.byName('nodes').merge(asked('nodes')))
    }
    await channel.close()
    this.opts.metrics.syncs.inc({ role: 'responder', result: 'ok' })
    if (got > 0) this.opts.log.debug({ peer, received: got }, 'anti-entropy repaired entries')
  }

  private offerOf(name: MapName): z.infer<typeof mapOffer> {
    const { map } = this.byName(name)
    return { root: map.digest(), size: map.size }
  }

  /** viewOf answers an offer for one map: "equal", or its bucket hashes at a level fit for the larger of the two maps. */
  private viewOf(name: MapName, offer: z.infer<typeof mapOffer>): MapView {
    const { map } = this.byName(name)
    if (offer.root === map.digest()) return 'equal'
    const lvl = digestLevel(Math.max(offer.size, map.size))
    return { level: lvl, buckets: Buffer.from(map.bucketHashes(lvl)).toString('base64') }
  }

  /** summarize lists our entries in the buckets whose hashes differ from the responder's, in random order, within SYNC_LIMITS. */
  private summarize(name: MapName, view: MapView): { buckets: number[]; entries: SummaryEntry[] } {
    if (view === 'equal') return { buckets: [], entries: [] }
    const { map } = this.byName(name)
    const differ = differingBuckets(map.bucketHashes(view.level), Buffer.from(view.buckets, 'base64'))
    return map.summary(view.level, shuffled(differ), SYNC_LIMITS.maxSummaryEntries)
  }
}
