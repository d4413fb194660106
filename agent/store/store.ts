// The replicated store: core's signed LWW map, persisted in level. Writes from the API
// are synced to disk before they are acknowledged; writes from gossip and anti-entropy
// are verified and persisted in arrival order. An agent restarted from its data dir has
// every DaemonSet before it talks to anyone. Every envelope that wins after open is
// announced as 'store:change'.

import { Level } from 'level'
import type { Logger } from 'pino'
import { checkEnvelopeBounds } from '../../core/bounds.js'
import { batchOf } from '../../core/batch.js'
import { LwwMap, trustedAuthors, type BatchMergeResult, type MergeResult } from '../../core/crdt.js'
import { checkEnvelope, type ClusterBinding, type Envelope } from '../../core/envelope.js'
import type { AgentClock } from '../clock.js'
import { TypedEvents } from '../events.js'
import { Throttle } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { GossipMessage, Verdict } from '../transport.js'

export type Source = 'api' | 'gossip' | 'sync' | 'disk'

/** EnvelopeDb is what the store keeps its envelopes in: level at `path` in production; a simulator of many agents in one process hands in an in-memory one. */
export interface EnvelopeDb {
  open(): Promise<void>
  iterator(): AsyncIterable<[string, Envelope]>
  put(key: string, env: Envelope, options: { sync: boolean }): Promise<void>
  close(): Promise<void>
}

export interface StoreOptions {
  path: string
  /** The database; default level at `path`. */
  db?: EnvelopeDb
  trusted: string[]
  /**
   * Retired operator keys (rotated away, not stolen): what they signed is kept (from disk,
   * gossip and sync) until it is re-signed by a trusted key; the API takes no new write of
   * theirs (it admits trusted authors only). A key in neither list is revoked: its puts are
   * dropped. Default none.
   */
  retired?: string[]
  /** The cluster id store envelopes are bound to (config clusterId); unset: unbound (v1) only. Envelopes read back from disk may be unbound whatever requireBound says. */
  cluster?: ClusterBinding
  /** Checks a key and, for a put, its value (a DaemonSet under ds/NS/NAME; undefined for a delete); returns why not. */
  checkValue: (key: string, op: 'put' | 'delete', value: unknown) => string | undefined
  clock: AgentClock
  metrics: Metrics
  log: Logger
}

/** The events Store emits. */
export type StoreEvents = {
  /** An envelope from the API, gossip or anti-entropy won its key (loading from disk announces nothing). */
  'store:change': Envelope
}

/**
 * Store holds the cluster-wide state. 'store:change' listeners are called in order, inside
 * the merge (inside a gossip handler, too): they must not block.
 */
export class Store extends TypedEvents<StoreEvents> {
  readonly map: LwwMap
  private readonly db: EnvelopeDb
  private readonly opts: StoreOptions
  private writes: Promise<void> = Promise.resolve()
  private readonly trusted: ReadonlySet<string>
  /** True while open() reads the disk back: tombstones stored here are kept whoever signed them. */
  private loading = false
  /** At most 20 'envelope rejected' lines a second for peers' envelopes (log.ts Throttle). */
  private readonly rejections = new Throttle(1000, 20)

  private constructor(opts: StoreOptions, db: EnvelopeDb) {
    super()
    this.opts = opts
    this.db = db
    this.trusted = new Set(opts.trusted)
    const trust = trustedAuthors([...opts.trusted, ...(opts.retired ?? [])])
    // A tombstone read back from disk outlives its author's trust: dropping it would let an
    // older put (of a key still trusted) be replayed over the delete.
    const keep = (env: Envelope): boolean => this.loading && env.op === 'delete'
    const cluster = opts.cluster
    const check = cluster === undefined ? undefined : (i: unknown): Envelope => checkEnvelope(i, this.loading ? { ...cluster, requireBound: false } : cluster)
    this.map = new LwwMap((env) => (keep(env) ? undefined : trust(env)) ?? opts.checkValue(env.key, env.op, env.value), check)
  }

  /** clusterId is the cluster id store envelopes are bound to, if any. */
  get clusterId(): string | undefined {
    return this.opts.cluster?.id
  }

  /** trusts reports whether `author` is one of the trusted operator keys (a retired key is not: it may sign nothing new). */
  trusts(author: string): boolean {
    return this.trusted.has(author)
  }

  /** open loads every persisted envelope (re-verified: a tampered file changes nothing). */
  static async open(opts: StoreOptions): Promise<Store> {
    const db: EnvelopeDb = opts.db ?? new Level<string, Envelope>(opts.path, { valueEncoding: 'json' })
    await db.open()
    const store = new Store(opts, db)
    let loaded = 0
    store.loading = true
    for await (const [, env] of db.iterator()) {
      const r = store.map.merge(env)
      if (r.status === 'rejected') {
        opts.metrics.rejected.inc({ map: 'store', source: 'disk' })
        opts.log.warn({ reason: r.reason }, 'stored envelope rejected on load (untrusted now, or tampered)')
      } else {
        loaded++
        opts.clock.observe(env.hlc)
      }
    }
    store.loading = false
    opts.log.info({ entries: loaded, digest: store.map.digest() }, 'store loaded')
    return store
  }

  /**
   * apply merges one envelope from `source`; when it wins, persists it (synced to disk for
   * API writes, before returning) and emits 'store:change'. Never throws on bad input.
   */
  async apply(input: unknown, source: Source): Promise<MergeResult> {
    const r = this.merge(input, source)
    if (r.status === 'applied') await this.persist(input as Envelope, source === 'api')
    return r
  }

  /**
   * applyAll merges envelopes as one write (core/crdt.ts mergeAll: all or nothing) from
   * `source`; persists those that won (synced to disk for API writes, before returning) and
   * emits 'store:change' for each. Never throws on bad input.
   */
  async applyAll(inputs: readonly unknown[], source: Source): Promise<BatchMergeResult> {
    const r = this.mergeBatch(inputs, source)
    if (r.status === 'merged') await Promise.all(inputs.filter((_, i) => r.results[i]?.status === 'applied').map((env) => this.persist(env as Envelope, source === 'api')))
    return r
  }

  /** validate is the handler of the store topic (one envelope, or a batch): merge now, persist in order (it does not wait for the disk). */
  validate(msg: GossipMessage): Verdict {
    let input: unknown
    try {
      input = JSON.parse(new TextDecoder().decode(msg.data))
    } catch {
      this.opts.metrics.rejected.inc({ map: 'store', source: 'gossip' })
      return 'reject'
    }
    const batch = batchOf(input)
    if (batch instanceof Error) {
      this.refused(batch.message, 'gossip')
      return 'reject'
    }
    if (batch !== undefined) {
      const r = this.mergeBatch(batch, 'gossip')
      if (r.status === 'rejected') return 'reject'
      for (const [i, res] of r.results.entries()) if (res.status === 'applied') void this.persist(batch[i] as Envelope, false)
      return r.results.some((res) => res.status === 'applied') ? 'accept' : 'ignore'
    }
    const r = this.merge(input, 'gossip')
    if (r.status === 'applied') void this.persist(input as Envelope, false)
    return r.status === 'applied' ? 'accept' : r.status === 'stale' ? 'ignore' : 'reject'
  }

  /** mergeSynced takes envelopes from an anti-entropy exchange. */
  async mergeSynced(inputs: unknown[]): Promise<number> {
    let applied = 0
    for (const input of inputs) {
      if ((await this.apply(input, 'sync')).status === 'applied') applied++
    }
    return applied
  }

  /**
   * merge checks an envelope's bounds (size, HLC not ahead of this clock; not for envelopes
   * read back from disk: a clock set back must not drop what is stored) before the map merges
   * it, so a refused write is never stored, announced or persisted.
   */
  private merge(input: unknown, source: Source): MergeResult {
    const bound = source === 'disk' ? undefined : checkEnvelopeBounds(input, this.opts.clock.wall())
    const r: MergeResult = bound === undefined ? this.map.merge(input) : { status: 'rejected', reason: bound, why: 'refused' }
    if (r.status === 'rejected') this.refused(r.reason, source)
    else if (r.status === 'applied') this.changed(input as Envelope, source)
    return r
  }

  /** mergeBatch is merge for envelopes written together: each one's bounds, then the map's mergeAll. */
  private mergeBatch(inputs: readonly unknown[], source: Source): BatchMergeResult {
    for (const [index, input] of inputs.entries()) {
      const bound = checkEnvelopeBounds(input, this.opts.clock.wall())
      if (bound !== undefined) {
        this.refused(`envelope ${index + 1} of the batch: ${bound}`, source)
        return { status: 'rejected', index, reason: bound, why: 'refused' }
      }
    }
    const r = this.map.mergeAll(inputs)
    if (r.status === 'rejected') this.refused(`envelope ${r.index + 1} of the batch: ${r.reason}`, source)
    else for (const [i, res] of r.results.entries()) if (res.status === 'applied') this.changed(inputs[i] as Envelope, source)
    return r
  }

  private refused(reason: string, source: Source): void {
    this.opts.metrics.rejected.inc({ map: 'store', source })
    // From the API every refusal is logged (an operator is waiting for it); from peers, 20 lines a second at most.
    const held = source === 'api' ? 0 : this.rejections.pass(this.opts.clock.mono())
    if (held !== undefined) this.opts.log.warn({ reason, source, ...(held > 0 ? { moreRejected: held } : {}) }, 'envelope rejected')
  }

  private changed(env: Envelope, source: Source): void {
    this.opts.clock.observe(env.hlc)
    this.opts.metrics.applied.inc({ map: 'store', source })
    this.opts.log.info({ key: env.key, op: env.op, hlc: env.hlc, source }, 'store changed')
    this.emit('store:change', env)
  }

  /** persist queues a write behind earlier ones so a key's versions land in order. */
  private persist(env: Envelope, sync: boolean): Promise<void> {
    const write = this.writes.then(() => this.db.put(env.key, env, { sync }))
    this.writes = write.catch((err: unknown) => this.opts.log.error({ err, key: env.key }, 'persisting an envelope failed'))
    return write
  }

  /** close waits for queued writes and closes the database. */
  async close(): Promise<void> {
    await this.writes
    await this.db.close()
  }
}
