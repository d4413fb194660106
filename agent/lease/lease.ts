// The rolling-update lease, agent side: this agent votes on every claim it hears (core
// SlotTable), and claims slots for its own host when the reconciler asks. A claim is
// granted by a majority of the voter set, then its "act" is acknowledged by a majority,
// and only then may the reconciler take the old copy down (or surge), within half the
// TTL of sending the claim (measured on the monotonic clock, so wall-clock skew plays no
// part). Votes are persisted before they are sent: a voter that restarts remembers what it
// gave. The rule and why it is safe: docs/rollout.md.

import { randomInt } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { leaseMessageSchema, SlotTable, viewOf, type ClaimMessage, type Hold, type LeaseMessage, type SlotKind } from '../../core/lease.js'
import { revisionOf } from '../../core/revision.js'
import type { Membership } from '../membership/membership.js'
import type { Metrics } from '../metrics.js'
import { Topics } from '../network/constants.js'
import type { GossipMessage, Network, Verdict } from '../network/network.js'
import type { Store } from '../store/store.js'
import { FleetView } from './fleet-view.js'

export interface LeaseOptions {
  network: Network
  membership: Membership
  store: Store
  keyId: string
  dataDir: string
  /** Grant lifetime. Default 15 s; a holder acts only in the first half. */
  ttlMs: number
  metrics: Metrics
  log: Logger
}

/** Attempt is this host's claim on one DaemonSet's slot. */
interface Attempt {
  ds: string
  kind: SlotKind
  slot: number
  term: number
  revision: string
  quorum: number
  voters: Set<string>
  sentAt: number
  grants: Set<string>
  acks: Set<string>
  /** claiming -> acting -> go (may act) -> held (acted; until release). */
  phase: 'claiming' | 'acting' | 'go' | 'held'
}

/** What `request` answers: act now, or wait (with why, for status). */
export type LeaseAnswer = { go: true; term: number } | { go: false; why: string }

const now = (): number => performance.now()

export class Lease extends EventTarget {
  readonly table: SlotTable
  private readonly fleet: FleetView
  private readonly opts: LeaseOptions
  private readonly log: Logger
  private readonly attempts = new Map<string, Attempt>()
  private readonly retryAt = new Map<string, number>()
  private readonly why = new Map<string, string>()
  /** Monotonic time a holder was first seen ready at the current revision, per `holder|ds|revision`. */
  private readonly readySeen = new Map<string, number>()
  /** Claims answered per sender in the current second: a peer cannot make us publish without bound. */
  private readonly answered = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private persisting: Promise<void> = Promise.resolve()

  constructor(opts: LeaseOptions) {
    super()
    this.opts = opts
    this.log = opts.log
    this.table = new SlotTable(opts.ttlMs)
    this.fleet = new FleetView(opts.membership, opts.store)
  }

  private get file(): string {
    return join(this.opts.dataDir, 'lease.json')
  }

  /** start restores persisted votes and starts the upkeep tick. */
  async start(): Promise<void> {
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as { holds?: Hold[]; terms?: Record<string, number> }
      this.table.load(saved.holds ?? [], saved.terms ?? {}, now())
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: (err as Error).message }, 'lease state unreadable; starting empty')
    }
    this.timer = setInterval(() => this.tick(), 500)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** persist writes the votes (after any change, before answering). */
  private persist(): Promise<void> {
    const data = JSON.stringify({ holds: this.table.all(), terms: this.table.termsSnapshot() })
    this.persisting = this.persisting.then(async () => {
      await writeFile(`${this.file}.tmp`, data, { mode: 0o600 })
      await rename(`${this.file}.tmp`, this.file)
    }).catch((err: unknown) => this.log.error({ err }, 'persisting lease state failed'))
    return this.persisting
  }

  // ---- messages -------------------------------------------------------------------

  private async send(msg: LeaseMessage): Promise<void> {
    this.opts.metrics.lease.inc({ type: msg.t, result: 'sent' })
    await this.opts.network.publish(Topics.lease, new TextEncoder().encode(JSON.stringify(msg)))
  }

  /** validate is the gossip validator for the lease topic. Must not block: handling is queued. */
  validate(msg: GossipMessage): Verdict {
    let parsed: LeaseMessage
    try {
      const r = leaseMessageSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)))
      if (!r.success) throw new Error(r.error.issues[0]?.message)
      parsed = r.data
    } catch {
      this.opts.metrics.lease.inc({ type: 'invalid', result: 'rejected' })
      this.opts.metrics.rejected.inc({ map: 'lease', source: 'gossip' })
      this.log.warn({ from: msg.from }, 'malformed lease message: dropped')
      return 'reject'
    }
    // Only members vote or claim: a key with no node record is not part of the fleet.
    if (this.opts.membership.records.get(`node/${msg.fromKeyId}`) === undefined) return 'ignore'
    queueMicrotask(() => void this.handle(msg.fromKeyId, parsed).catch((err: unknown) => this.log.error({ err }, 'lease message failed')))
    return 'accept'
  }

  private async handle(from: string, msg: LeaseMessage): Promise<void> {
    this.opts.metrics.lease.inc({ type: msg.t, result: 'received' })
    // Note the term after deciding: a claim is judged against the terms seen before it.
    try {
      await this.dispatch(from, msg)
    } finally {
      this.table.observe(msg)
    }
  }

  private async dispatch(from: string, msg: LeaseMessage): Promise<void> {
    switch (msg.t) {
      case 'claim':
        return this.onClaim(from, msg)
      case 'act': {
        if (this.table.act(from, msg, now())) {
          await this.persist()
          await this.send({ t: 'ack', ds: msg.ds, kind: msg.kind, slot: msg.slot, term: msg.term, to: from })
        }
        return
      }
      case 'release':
        if (this.table.release(from, msg)) await this.persist()
        return
      case 'grant':
      case 'ack':
      case 'refuse':
        if (msg.to === this.opts.keyId) this.onAnswer(from, msg)
        return
    }
  }

  private async onClaim(from: string, msg: ClaimMessage): Promise<void> {
    const second = Math.floor(Date.now() / 1000)
    const k = `${from}@${second}`
    const n = (this.answered.get(k) ?? 0) + 1
    this.answered.set(k, n)
    if (n > 20) return
    const v = this.table.claim(from, msg, now(), this.fleet.voterView())
    const base = { ds: msg.ds, kind: msg.kind, slot: msg.slot, term: msg.term, to: from }
    if (v.grant) {
      await this.persist()
      await this.send({ t: 'grant', ...base })
    } else {
      await this.send({ t: 'refuse', ...base, reason: v.reason })
    }
  }

  private onAnswer(from: string, msg: Extract<LeaseMessage, { t: 'grant' | 'ack' | 'refuse' }>): void {
    const a = this.attempts.get(msg.ds)
    if (a === undefined || a.kind !== msg.kind || a.slot !== msg.slot || a.term !== msg.term || !a.voters.has(from)) return
    if (msg.t === 'refuse') {
      this.why.set(msg.ds, msg.reason)
      this.log.debug({ daemonset: msg.ds, slot: msg.slot, term: msg.term, reason: msg.reason }, 'claim refused')
      return
    }
    if (msg.t === 'grant' && a.phase === 'claiming') {
      a.grants.add(from)
      if (a.grants.size >= a.quorum) void this.startActing(a)
    } else if (msg.t === 'ack' && a.phase === 'acting') {
      a.acks.add(from)
      this.maybeGo(a)
    }
  }

  private async startActing(a: Attempt): Promise<void> {
    a.phase = 'acting'
    const msg = { t: 'act' as const, ds: a.ds, kind: a.kind, slot: a.slot, term: a.term }
    if (this.table.act(this.opts.keyId, msg, now())) {
      await this.persist()
      a.acks.add(this.opts.keyId)
    }
    await this.send(msg)
    this.maybeGo(a)
  }

  private maybeGo(a: Attempt): void {
    if (a.phase !== 'acting' || a.acks.size < a.quorum) return
    if (now() - a.sentAt >= this.opts.ttlMs / 2) {
      this.log.warn({ daemonset: a.ds, slot: a.slot, term: a.term, ageMs: Math.round(now() - a.sentAt) }, 'grant aged before acting: action fenced')
      this.abandon(a, 'the acknowledgements came too late (fenced)')
      return
    }
    a.phase = 'go'
    this.why.delete(a.ds)
    this.log.info({ daemonset: a.ds, kind: a.kind, slot: a.slot, term: a.term, grants: a.grants.size, quorum: a.quorum }, 'update slot acquired')
    this.dispatchEvent(new Event('change'))
  }

  /**
   * backoff spreads claims by this host's turn (800 ms per place among the hosts still to
   * update), so hosts rarely claim one slot at once and split the votes. A courtesy, not a
   * rule: safety comes from the votes alone.
   */
  private backoff(ds: string, revision: string): number {
    return now() + randomInt(300, 1200) + 800 * this.fleet.turn(ds, revision, this.opts.membership.self().name)
  }

  private abandon(a: Attempt, why: string): void {
    this.attempts.delete(a.ds)
    this.why.set(a.ds, why)
    this.retryAt.set(a.ds, this.backoff(a.ds, a.revision))
    // Nothing was done under it: free the votes at once rather than after the TTL.
    if (this.table.release(this.opts.keyId, a)) void this.persist()
    void this.send({ t: 'release', ds: a.ds, kind: a.kind, slot: a.slot, term: a.term })
  }

  // ---- what the reconciler calls -------------------------------------------------

  /**
   * request asks for a slot of `kind` to move this host's copy of `ds` to `revision`. It
   * answers go once a majority granted and acknowledged the act, while the grant is young
   * enough to act on; otherwise it claims (or keeps claiming) and answers wait with why.
   */
  request(ds: string, revision: string, kind: SlotKind): LeaseAnswer {
    const t = now()
    const a = this.attempts.get(ds)
    if (a !== undefined) {
      if (a.phase === 'held') return { go: true, term: a.term }
      if (a.phase === 'go') {
        if (t - a.sentAt < this.opts.ttlMs / 2 && a.revision === revision && a.kind === kind) return { go: true, term: a.term }
        this.abandon(a, 'the grant aged before the update began')
      } else if (a.revision !== revision || a.kind !== kind) {
        this.abandon(a, 'the target changed')
      } else {
        return { go: false, why: this.why.get(ds) ?? 'waiting for a majority of the fleet to grant an update slot' }
      }
    }
    const at = this.retryAt.get(ds)
    if (at === undefined) {
      // First wish for this update: wait for this host's turn before claiming.
      this.retryAt.set(ds, this.backoff(ds, revision))
      return { go: false, why: 'waiting for its turn' }
    }
    if (at > t) return { go: false, why: this.why.get(ds) ?? 'waiting for its turn' }
    return this.claim(ds, revision, kind)
  }

  private claim(ds: string, revision: string, kind: SlotKind): LeaseAnswer {
    const limit = this.fleet.limit(ds, kind)
    const t = now()
    if (limit === 0) return { go: false, why: `no ${kind} slots` }
    const held = this.table.held(ds, t, kind)
    const free: number[] = []
    for (let i = 0; i < limit; i++) {
      const h = held.find((x) => x.slot === i)
      if (h === undefined || h.holder === this.opts.keyId) free.push(i)
    }
    if (free.length === 0) {
      const why = `every ${kind} slot is held (${held.length} of ${limit})`
      this.why.set(ds, why)
      this.retryAt.set(ds, this.backoff(ds, revision))
      return { go: false, why }
    }
    const slot = free[randomInt(free.length)] as number
    const voters = this.fleet.voters()
    const { view, quorum } = viewOf(voters)
    const term = this.table.maxTerm(ds, kind, slot) + 1
    const msg: ClaimMessage = { t: 'claim', ds, kind, slot, term, revision, view }
    const a: Attempt = { ds, kind, slot, term, revision, quorum, voters: new Set(voters), sentAt: t, grants: new Set(), acks: new Set(), phase: 'claiming' }
    const own = this.table.claim(this.opts.keyId, msg, t, this.fleet.voterView())
    if (!own.grant) {
      this.why.set(ds, own.reason)
      this.retryAt.set(ds, this.backoff(ds, revision))
      return { go: false, why: own.reason }
    }
    a.grants.add(this.opts.keyId)
    this.attempts.set(ds, a)
    void this.persist().then(() => this.send(msg))
    if (a.grants.size >= a.quorum) void this.startActing(a)
    return { go: false, why: 'claiming an update slot' }
  }

  /**
   * acted is called right before the reconciler acts under the slot: true when the grant is
   * still young enough (the slot is then held until release); false when it aged meanwhile
   * (this process was paused or slow): the action is fenced and the claim starts over.
   */
  acted(ds: string): boolean {
    const a = this.attempts.get(ds)
    if (a === undefined) return false
    if (a.phase === 'held') return true
    if (a.phase !== 'go') return false
    if (now() - a.sentAt >= this.opts.ttlMs / 2) {
      this.log.warn({ daemonset: ds, slot: a.slot, term: a.term, ageMs: Math.round(now() - a.sentAt) }, 'grant aged before acting: action fenced')
      this.abandon(a, 'the grant aged before the update began (fenced)')
      return false
    }
    a.phase = 'held'
    return true
  }

  /** holding says whether this host holds a slot for `ds` it has acted under. */
  holding(ds: string): boolean {
    return this.attempts.get(ds)?.phase === 'held'
  }

  /** release gives the slot back: the new copy is available. */
  release(ds: string): void {
    const a = this.attempts.get(ds)
    if (a === undefined) return
    this.attempts.delete(ds)
    this.why.delete(ds)
    this.retryAt.delete(ds)
    this.log.info({ daemonset: ds, kind: a.kind, slot: a.slot, term: a.term }, 'update slot released')
    if (this.table.release(this.opts.keyId, a)) void this.persist()
    void this.send({ t: 'release', ds: a.ds, kind: a.kind, slot: a.slot, term: a.term })
  }

  // ---- upkeep --------------------------------------------------------------------

  /**
   * tick times out claims that found no majority, frees acting holds whose holder is seen
   * running an available copy of the current revision (a holder that died after its
   * update), drops lapsed grants and the holds of deleted DaemonSets.
   */
  private tick(): void {
    const t = now()
    for (const a of this.attempts.values()) {
      if (this.fleet.daemonSet(a.ds) === undefined) {
        // Deleted while this host held or claimed a slot: nothing left to update.
        this.attempts.delete(a.ds)
        this.retryAt.delete(a.ds)
        continue
      }
      if ((a.phase === 'claiming' || a.phase === 'acting') && t - a.sentAt > Math.min(this.opts.ttlMs / 2, 3000)) {
        this.abandon(a, this.why.get(a.ds) ?? `no majority answered (${a.phase === 'claiming' ? a.grants.size : a.acks.size} of ${a.quorum} needed)`)
      }
    }
    let changed = false
    // minReadySeconds is timed here, from when this voter first saw the holder ready: the
    // holder may have died since and can no longer report its copy available itself.
    const watched = new Set<string>()
    for (const h of this.table.all()) {
      const d = this.fleet.daemonSet(h.ds)
      if (d === undefined) {
        this.table.forget(h.ds)
        changed = true
        continue
      }
      if (!h.acting) continue
      const record = this.fleet.record(h.holder)
      const pod = record?.pods[h.ds]
      const revision = revisionOf(d)
      const k = `${h.holder}|${h.ds}|${revision}`
      if (pod === undefined || !pod.ready || pod.revision !== revision) continue
      const seen = this.readySeen.get(k) ?? t
      this.readySeen.set(k, seen)
      watched.add(k)
      if (t - seen >= (d.spec.minReadySeconds ?? 0) * 1000) {
        this.table.recover(h.holder, h.ds)
        changed = true
        this.log.info({ daemonset: h.ds, holder: record?.name, slot: h.slot }, 'slot freed: its holder runs an available copy')
      }
    }
    for (const k of this.readySeen.keys()) if (!watched.has(k)) this.readySeen.delete(k)
    const before = this.table.all().length
    this.table.expire(t)
    if (changed || this.table.all().length !== before) void this.persist()
    const second = Math.floor(Date.now() / 1000)
    for (const k of this.answered.keys()) if (!k.endsWith(`@${second}`)) this.answered.delete(k)
  }

  /** slots describes the busy slots this voter sees, for status and tests. */
  slots(): { ds: string; kind: SlotKind; slot: number; holder: string; term: number; acting: boolean }[] {
    const t = now()
    const names = new Map(this.opts.membership.nodes().map((n) => [n.keyId, n.record.name]))
    return this.table
      .all()
      .filter((h) => this.table.busy(h, t))
      .map((h) => ({ ds: h.ds, kind: h.kind, slot: h.slot, holder: names.get(h.holder) ?? h.holder, term: h.term, acting: h.acting }))
  }
}
