// Rolling-update slots: the voter side of the lease, pure. Every agent is a voter, and a
// committee of them (at most DEFAULT_COMMITTEE, picked the same way by every agent) decides
// each DaemonSet's slots; a host that wants to take its copy down (or surge a second one)
// claims a slot and needs grants, then acknowledgements of its "act", from a quorum of it.
// Each slot is a mutex (any two quorums share f+1 voters, so at least one honest voter, and
// an honest voter gives a slot to one host at a time), so at most `limit` hosts act at once
// even when f voters lie. docs/rollout.md has the rule, the argument and the failure cases.
// Times here are the caller's monotonic milliseconds.

import { createHash } from 'node:crypto'
import { z } from 'zod'
import { KEY_ID } from './keys.js'
import { parseDsKey } from './keyspace.js'
import { since020 } from './version.js'

export const SLOT_KINDS = ['unavailable', 'surge'] as const
/** unavailable: the holder takes its copy down (maxUnavailable); surge: it runs a second copy (maxSurge). */
export type SlotKind = (typeof SLOT_KINDS)[number]

const ds = z.string().max(317).refine((s) => parseDsKey(s) !== undefined, 'not a DaemonSet reference NAMESPACE/NAME')
const keyId = z.string().regex(KEY_ID)
const common = { ds, kind: z.enum(SLOT_KINDS), slot: z.number().int().min(0).max(100_000), term: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }

/**
 * MAX_TERM_STEP bounds how far a claim's term may run ahead of the highest term a voter saw
 * for its slot. An honest claimant asks one above the highest it saw, so its terms grow by
 * one per attempt and never come near; a member that asks 2^53-1 to freeze the slot for
 * good is refused, and pushing the term to the schema's end takes 2^21 accepted claims.
 */
export const MAX_TERM_STEP = 2 ** 32

/** DEFAULT_FAULTY_VOTERS is f, the voters that may lie (grant anything) without the bound breaking. */
export const DEFAULT_FAULTY_VOTERS = 1

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

/**
 * releaseRequestSchema bounds an operator's request to free a slot by hand (`rollout release`,
 * stored under `release/NAMESPACE/NAME/NODE`): the slot NODE holds, the revision it holds it
 * for and its term (voters free holds of that revision with a term up to this one).
 */
export const releaseRequestSchema = z.object({ kind: z.enum(SLOT_KINDS), slot: common.slot, term: common.term, revision: z.string().min(1).max(64) }).strict()

export type ReleaseRequest = z.infer<typeof releaseRequestSchema>
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
  /** Why `holder` may not hold a slot of ds (it should not run it, or reports no outdated copy); undefined when it may. */
  ineligible(ds: string, holder: string): string | undefined
  /** Whether this voter is on the DaemonSet's committee (committeeOf) in its view: only the committee decides its slots. */
  onCommittee(ds: string): boolean
}

export type Verdict = { grant: true } | { grant: false; reason: string }

/**
 * quorumOf returns how many of n voters a claim needs when f of them may lie:
 * ceil((n+f+1)/2), so that any two quorums share at least f+1 voters (one honest), and never
 * more than n. f = 0 is a plain majority. With n <= f+2 (n = 1, 2, 3 at f = 1) every voter
 * is needed.
 */
export function quorumOf(n: number, f: number): number {
  return Math.min(n, Math.ceil((n + f + 1) / 2))
}

/**
 * knowsCommittees says whether an agent of `version` (its node record's) decides slots by
 * committee and reads the slots records report: 0.1.x agents do not (they vote on every
 * claim, hash their view without k, and refuse a record field they do not know). While any
 * voter runs one, every agent keeps to the fleet-wide vote and reports no slot in its record.
 */
export function knowsCommittees(version: string): boolean {
  return since020(version)
}

/** DEFAULT_COMMITTEE is how many voters decide a DaemonSet's slots in a fleet larger than that (`leaseCommittee`). */
export const DEFAULT_COMMITTEE = 9

/**
 * committeeOf returns the voters that decide the slots of DaemonSet `ds`: every voter when
 * there are at most `size`, else the `size` whose hash of (ds, key id) is lowest (rendezvous
 * hashing). Every agent that sees the same voter set picks the same committee, a DaemonSet's
 * committee changes by at most one member when one voter joins or leaves, and different
 * DaemonSets spread over different committees. Sorted by key id.
 */
export function committeeOf(voters: readonly string[], ds: string, size = DEFAULT_COMMITTEE): string[] {
  const all = [...new Set(voters)].sort()
  if (all.length <= size) return all
  const score = (k: string): string => createHash('sha256').update(`${ds}\n${k}`).digest('hex')
  return all
    .map((k) => ({ k, s: score(k) }))
    .sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
    .slice(0, size)
    .map((x) => x.k)
    .sort()
}

/**
 * viewOf returns the hash of a voter set and the quorum a claim needs: quorumOf over the
 * committee (every voter up to `committee` of them, committeeOf). f is part of the hash: a
 * claim made with another f is refused like one made against another set, so agents
 * configured differently never count different quorums against each other. So is the
 * committee size, once the set is larger than it (a fleet within it hashes as before
 * committees: every voter is on it, whatever the size).
 */
export function viewOf(voters: readonly string[], f = DEFAULT_FAULTY_VOTERS, committee = DEFAULT_COMMITTEE): { view: string; quorum: number } {
  const sorted = [...new Set(voters)].sort()
  let text = f === 0 ? sorted.join('\n') : `${sorted.join('\n')}\nf=${f}`
  if (sorted.length > committee) text += `\ncommittee=${committee}`
  return { view: createHash('sha256').update(text).digest('base64url').slice(0, 22), quorum: quorumOf(Math.min(sorted.length, committee), f) }
}

/** termSeenIn returns the slot's highest term a voter's refusal tells (`… [term N]`), or undefined when it tells none. */
export function termSeenIn(reason: string): number | undefined {
  const m = / \[term (\d{1,16})\]$/.exec(reason)
  const n = m === null ? NaN : Number(m[1])
  return Number.isSafeInteger(n) ? n : undefined
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
   * 1. the claim's voter set or revision differs from this voter's (it cannot vouch for it),
 *    or this voter is not on the DaemonSet's committee;
   * 2. the slot index is not below the voter's limit for that kind;
   * 3. `from` should not run the DaemonSet, or its record shows no outdated copy (nothing to update);
   * 4. the term runs more than MAX_TERM_STEP ahead of every term seen for the slot;
   * 5. the slot is busy with another holder, or `from` holds another busy slot of the DaemonSet;
   * 6. the term is not above every term seen for the slot (unless it renews its own hold);
   * 7. (kind unavailable) hosts already unavailable plus busy slots reach the limit.
   * A claim that passes 1 to 4 teaches the voter its term, granted or not (so that its own
   * next claim picks a higher one); nothing else does, so no message can poison a term.
   */
  claim(from: string, msg: ClaimMessage, now: number, v: VoterView): Verdict {
    const k = slotKey(msg.ds, msg.kind, msg.slot)
    if (msg.view !== v.view) return { grant: false, reason: 'voter sets differ (membership is changing)' }
    if (!v.onCommittee(msg.ds)) return { grant: false, reason: `not on the committee of ${msg.ds}` }
    const revision = v.revision(msg.ds)
    if (revision === undefined) return { grant: false, reason: 'unknown DaemonSet' }
    if (revision !== msg.revision) return { grant: false, reason: `revision ${msg.revision} is not the current ${revision}` }
    const limit = v.limit(msg.ds, msg.kind)
    if (msg.slot >= limit) return { grant: false, reason: `slot ${msg.slot} not below ${msg.kind} limit ${limit}` }
    const why = v.ineligible(msg.ds, from)
    if (why !== undefined) return { grant: false, reason: why }
    const seen = this.terms.get(k) ?? 0
    if (msg.term > seen + MAX_TERM_STEP) return { grant: false, reason: `term ${msg.term} too far ahead of ${seen}` }
    const verdict = this.decide(from, msg, now, v, limit, seen)
    if (msg.term > seen) this.terms.set(k, msg.term)
    // A refusal past rule 4 tells the slot's highest term: a claimant off the committee
    // hears no other claims, and asks one above it next time (termSeenIn).
    return verdict.grant ? verdict : { grant: false, reason: `${verdict.reason} [term ${Math.max(seen, msg.term)}]` }
  }

  /** decide applies rules 5 to 7 to a valid claim and records the hold when granted. */
  private decide(from: string, msg: ClaimMessage, now: number, v: VoterView, limit: number, seen: number): Verdict {
    const k = slotKey(msg.ds, msg.kind, msg.slot)
    const current = this.holds.get(k)
    const mine = current?.holder === from
    if (current !== undefined && !mine && this.busy(current, now)) return { grant: false, reason: `slot ${msg.slot} held by ${current.holder} (term ${current.term})` }
    const other = this.held(msg.ds, now).find((h) => h.holder === from && slotKey(h.ds, h.kind, h.slot) !== k)
    if (other !== undefined) return { grant: false, reason: `already holds ${other.kind} slot ${other.slot}` }
    const renew = mine && current?.term === msg.term
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

  /** forget drops everything of a DaemonSet that no longer exists: its holds and its terms. */
  forget(ds: string): void {
    for (const [k, h] of this.holds) if (h.ds === ds) this.holds.delete(k)
    const prefix = `${ds}|`
    for (const k of this.terms.keys()) if (k.startsWith(prefix)) this.terms.delete(k)
  }

  /** daemonSets lists the DaemonSets this table keeps anything of (holds or terms). */
  daemonSets(): Set<string> {
    const out = new Set<string>()
    for (const h of this.holds.values()) out.add(h.ds)
    for (const k of this.terms.keys()) out.add(k.slice(0, k.indexOf('|')))
    return out
  }

  /** dropHolder frees every hold of `holder` (it left, was forgotten or deleted) and returns them. */
  dropHolder(holder: string): Hold[] {
    const freed = [...this.holds.entries()].filter(([, h]) => h.holder === holder)
    for (const [k] of freed) this.holds.delete(k)
    return freed.map(([, h]) => h)
  }

  /**
   * releaseBy frees `holder`'s hold of the slot when an operator asked to: the hold is of
   * `revision` and its term is at most the request's. A later claim (a higher term) is
   * untouched, so the request may stay in the store. Returns the freed hold.
   */
  releaseBy(holder: string, req: ReleaseRequest & { ds: string }): Hold | undefined {
    const k = slotKey(req.ds, req.kind, req.slot)
    const h = this.holds.get(k)
    if (h === undefined || h.holder !== holder || h.revision !== req.revision || h.term > req.term) return undefined
    this.holds.delete(k)
    return h
  }

  /** expire drops grants that lapsed without an act (they no longer count). */
  expire(now: number): void {
    for (const [k, h] of this.holds) if (!this.busy(h, now)) this.holds.delete(k)
  }

  /**
   * load restores holds persisted before a restart; their grants count as given `now`
   * (conservative). A term within MAX_TERM_STEP of the schema's end can only come from a
   * poisoned table (an older agent learned terms from any message): it is dropped with its
   * hold, so the slot works again. Returns how many terms were dropped.
   */
  load(holds: readonly Hold[], terms: Readonly<Record<string, number>>, now: number): number {
    const poisoned = (t: number): boolean => t > Number.MAX_SAFE_INTEGER - MAX_TERM_STEP
    for (const h of holds) if (!poisoned(h.term)) this.holds.set(slotKey(h.ds, h.kind, h.slot), { ...h, grantedAt: now })
    let dropped = 0
    for (const [k, t] of Object.entries(terms)) {
      if (poisoned(t)) dropped++
      else this.terms.set(k, Math.max(t, this.terms.get(k) ?? 0))
    }
    return dropped
  }

  /** terms returns the highest term per slot, for persistence. */
  termsSnapshot(): Record<string, number> {
    return Object.fromEntries(this.terms)
  }
}
