// Rolling-update slots held in gossip: the voter side of the lease, pure. Every agent is
// a voter; a host that wants to take its copy down (or surge a second one) claims a slot
// and needs grants, then acknowledgements of its "act", from a majority of the fleet.
// Each slot is a mutex (any two majorities share a voter, and a voter gives a slot to one
// host at a time), so at most `limit` hosts act at once. docs/rollout.md has the rule, the
// argument and the failure cases. Times here are the caller's monotonic milliseconds.

import { createHash } from 'node:crypto'
import { z } from 'zod'
import { KEY_ID } from './keys.js'
import { parseDsKey } from './keyspace.js'

export const SLOT_KINDS = ['unavailable', 'surge'] as const
/** unavailable: the holder takes its copy down (maxUnavailable); surge: it runs a second copy (maxSurge). */
export type SlotKind = (typeof SLOT_KINDS)[number]

const ds = z.string().max(317).refine((s) => parseDsKey(s) !== undefined, 'not a DaemonSet reference NAMESPACE/NAME')
const keyId = z.string().regex(KEY_ID)
const common = { ds, kind: z.enum(SLOT_KINDS), slot: z.number().int().min(0).max(100_000), term: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }

/** leaseMessageSchema bounds every lease message: they arrive from peers. */
export const leaseMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('claim'), ...common, revision: z.string().min(1).max(64), view: z.string().min(1).max(64) }).strict(),
  z.object({ t: z.literal('grant'), ...common, to: keyId }).strict(),
  z.object({ t: z.literal('refuse'), ...common, to: keyId, reason: z.string().max(300) }).strict(),
  z.object({ t: z.literal('act'), ...common }).strict(),
  z.object({ t: z.literal('ack'), ...common, to: keyId }).strict(),
  z.object({ t: z.literal('release'), ...common }).strict(),
])

export type LeaseMessage = z.infer<typeof leaseMessageSchema>
export type ClaimMessage = Extract<LeaseMessage, { t: 'claim' }>

/** Hold is one slot as this voter gave it. */
export interface Hold {
  ds: string
  kind: SlotKind
  slot: number
  holder: string
  term: number
  revision: string
  /** Monotonic ms when this voter last granted it. */
  grantedAt: number
  /** The holder announced it acts (its copy may be down) and this voter acknowledged it. */
  acting: boolean
}

/** VoterView is what a voter knows of the fleet when it decides. Must not block. */
export interface VoterView {
  /** The hash of the voter set (see viewOf): a claim made against another set is refused. */
  view: string
  /** The DaemonSet's current template revision in this voter's store (undefined: unknown or deleted). */
  revision(ds: string): string | undefined
  /** How many slots of this kind the DaemonSet has (maxUnavailable or maxSurge over its hosts). */
  limit(ds: string, kind: SlotKind): number
  /** Hosts (key ids) running the DaemonSet whose last known copy is not available, other than `exclude`. */
  unavailable(ds: string, exclude: ReadonlySet<string>): number
}

export type Verdict = { grant: true } | { grant: false; reason: string }

/** viewOf returns the hash of a voter set and the majority it needs. */
export function viewOf(voters: readonly string[]): { view: string; quorum: number } {
  const sorted = [...new Set(voters)].sort()
  return { view: createHash('sha256').update(sorted.join('\n')).digest('base64url').slice(0, 22), quorum: Math.floor(sorted.length / 2) + 1 }
}

const slotKey = (ds: string, kind: SlotKind, slot: number): string => `${ds}|${kind}|${slot}`

/**
 * SlotTable is one voter's record of the slots it gave. A slot is busy while its grant is
 * younger than the TTL, or, once the holder acts, until the holder releases it or is seen
 * running an available copy of the current revision (recover). Terms only grow per slot:
 * a message with an older term than the slot's is stale and changes nothing (fencing).
 */
export class SlotTable {
  private readonly holds = new Map<string, Hold>()
  private readonly terms = new Map<string, number>()
  readonly ttlMs: number

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs
  }

  /** busy says whether a hold still counts at `now`. */
  busy(h: Hold, now: number): boolean {
    return h.acting || now - h.grantedAt < this.ttlMs
  }

  /** maxTerm is the highest term seen for the slot (0 when none). */
  maxTerm(ds: string, kind: SlotKind, slot: number): number {
    return this.terms.get(slotKey(ds, kind, slot)) ?? 0
  }

  /** observe notes the term of any lease message seen, so a claim of ours picks a higher one. */
  observe(msg: LeaseMessage): void {
    const k = slotKey(msg.ds, msg.kind, msg.slot)
    if (msg.term > (this.terms.get(k) ?? 0)) this.terms.set(k, msg.term)
  }

  /** held lists the busy holds of a DaemonSet (all kinds when kind is omitted). */
  held(ds: string, now: number, kind?: SlotKind): Hold[] {
    return [...this.holds.values()].filter((h) => h.ds === ds && (kind === undefined || h.kind === kind) && this.busy(h, now))
  }

  /** all lists every hold, busy or not, for persistence and status. */
  all(): Hold[] {
    return [...this.holds.values()]
  }

  /**
   * claim decides a claim from `from` and, when granted, records the hold. Refused when:
   * 1. the claim's voter set or revision differs from this voter's (it cannot vouch for it);
   * 2. the slot index is not below the voter's limit for that kind;
   * 3. the slot is busy with another holder, or `from` holds another busy slot of the DaemonSet;
   * 4. the term is not above every term seen for the slot (unless it renews its own hold);
   * 5. (kind unavailable) hosts already unavailable plus busy slots reach the limit.
   */
  claim(from: string, msg: ClaimMessage, now: number, v: VoterView): Verdict {
    const k = slotKey(msg.ds, msg.kind, msg.slot)
    if (msg.view !== v.view) return { grant: false, reason: 'voter sets differ (membership is changing)' }
    const revision = v.revision(msg.ds)
    if (revision === undefined) return { grant: false, reason: 'unknown DaemonSet' }
    if (revision !== msg.revision) return { grant: false, reason: `revision ${msg.revision} is not the current ${revision}` }
    const limit = v.limit(msg.ds, msg.kind)
    if (msg.slot >= limit) return { grant: false, reason: `slot ${msg.slot} not below ${msg.kind} limit ${limit}` }
    const current = this.holds.get(k)
    const mine = current?.holder === from
    if (current !== undefined && !mine && this.busy(current, now)) return { grant: false, reason: `slot ${msg.slot} held by ${current.holder} (term ${current.term})` }
    const other = this.held(msg.ds, now).find((h) => h.holder === from && slotKey(h.ds, h.kind, h.slot) !== k)
    if (other !== undefined) return { grant: false, reason: `already holds ${other.kind} slot ${other.slot}` }
    const renew = mine && current?.term === msg.term
    const seen = this.terms.get(k) ?? 0
    if (!renew && msg.term <= seen) return { grant: false, reason: `stale term ${msg.term} (seen ${seen})` }
    if (msg.kind === 'unavailable') {
      const busy = this.held(msg.ds, now, 'unavailable').filter((h) => h.holder !== from)
      const exclude = new Set([from, ...busy.map((h) => h.holder)])
      const down = busy.length + v.unavailable(msg.ds, exclude)
      if (down >= limit) return { grant: false, reason: `${down} host(s) already unavailable (maxUnavailable ${limit})` }
    } else {
      const busy = this.held(msg.ds, now, 'surge').filter((h) => h.holder !== from).length
      if (busy >= limit) return { grant: false, reason: `${busy} host(s) already surging (maxSurge ${limit})` }
    }
    // A holder re-claiming after a restart keeps its acting mark: its copy may still be down.
    this.holds.set(k, { ds: msg.ds, kind: msg.kind, slot: msg.slot, holder: from, term: msg.term, revision: msg.revision, grantedAt: now, acting: mine && current?.acting === true })
    if (msg.term > seen) this.terms.set(k, msg.term)
    return { grant: true }
  }

  /** act records that the holder acts under its grant; true (acknowledge) only for the current, unexpired grant. */
  act(from: string, msg: { ds: string; kind: SlotKind; slot: number; term: number }, now: number): boolean {
    const h = this.holds.get(slotKey(msg.ds, msg.kind, msg.slot))
    if (h === undefined || h.holder !== from || h.term !== msg.term) return false
    if (!h.acting && now - h.grantedAt >= this.ttlMs) return false
    h.acting = true
    return true
  }

  /** release frees the slot when it is the holder's current term; a stale release changes nothing. */
  release(from: string, msg: { ds: string; kind: SlotKind; slot: number; term: number }): boolean {
    const k = slotKey(msg.ds, msg.kind, msg.slot)
    const h = this.holds.get(k)
    if (h === undefined || h.holder !== from || h.term !== msg.term) return false
    this.holds.delete(k)
    return true
  }

  /** recover frees the holds of `holder` on `ds`: it was seen running an available copy of the current revision. */
  recover(holder: string, ds: string): Hold[] {
    const freed = [...this.holds.entries()].filter(([, h]) => h.holder === holder && h.ds === ds)
    for (const [k] of freed) this.holds.delete(k)
    return freed.map(([, h]) => h)
  }

  /** forget drops the holds of a DaemonSet that no longer exists. */
  forget(ds: string): void {
    for (const [k, h] of this.holds) if (h.ds === ds) this.holds.delete(k)
  }

  /** expire drops grants that lapsed without an act (they no longer count). */
  expire(now: number): void {
    for (const [k, h] of this.holds) if (!this.busy(h, now)) this.holds.delete(k)
  }

  /** load restores holds persisted before a restart; their grants count as given `now` (conservative). */
  load(holds: readonly Hold[], terms: Readonly<Record<string, number>>, now: number): void {
    for (const h of holds) this.holds.set(slotKey(h.ds, h.kind, h.slot), { ...h, grantedAt: now })
    for (const [k, t] of Object.entries(terms)) this.terms.set(k, Math.max(t, this.terms.get(k) ?? 0))
  }

  /** terms returns the highest term per slot, for persistence. */
  termsSnapshot(): Record<string, number> {
    return Object.fromEntries(this.terms)
  }
}
