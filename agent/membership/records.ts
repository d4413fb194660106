// Node records as a map: every node's signed record, accepted only when signed by that
// node's own key, and only from the key that first claimed its name while that node is
// around; forgotten records are kept out (anti-entropy must not bring them back). No
// liveness here (detector.ts), no I/O: it decides and merges.

import { LwwMap, type Authorizer } from '../../core/crdt.js'
import type { Envelope } from '../../core/envelope.js'
import { StoreKey } from '../../core/keyspace.js'
import { checkNodeRecord, type NodeRecord } from '../../core/node-record.js'

/** recordAuthorizer: the key is `node/KEYID` and only KEYID may write it, with a valid record. */
export const recordAuthorizer: Authorizer = (env) => {
  if (env.key !== StoreKey.nodeRecord(env.author)) return `node record ${env.key} not signed by that node's key`
  if (env.op !== 'put') return 'node records are never deleted'
  const issues = checkNodeRecord(env.value)
  return issues.length === 0 ? undefined : `invalid node record: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
}

/**
 * RecordGate is node admission as the records map consults it (agent/admission.ts). Must not
 * block; called on every record merged.
 */
export interface RecordGate {
  /** refuse says why a record of `keyId` may not be taken at all, or undefined. */
  refuse(keyId: string, record: NodeRecord): string | undefined
  /** boundKey returns the key an operator admitted under `name`: it owns the name, whoever came first. */
  boundKey(name: string): string | undefined
  /** admitted says whether a key is a member: an admitted key keeps its name from keys that are not, Left or not. */
  admitted(keyId: string, record: NodeRecord | undefined): boolean
}

/**
 * Records of keys that are not members (Pending hosts) held at once. Anyone with the cluster
 * key can make fresh keys at will, so their number is bounded: past it, the record of a new
 * key that is not a member is refused, and nothing held is evicted (members never compete
 * for these places, and hosts already Pending keep theirs). A place frees when a pending key
 * is admitted, deleted or forgotten.
 */
export const MAX_PENDING_RECORDS = 256
/** Records held in all, members included: the only bound on fresh keys under `admission: open`. */
export const MAX_NODE_RECORDS = 20_000
/** Versions of forgotten records remembered (the oldest forgotten first goes: it is the least likely to come back). */
export const MAX_FORGOTTEN = 20_000

/** RecordMerge is what merging one record envelope did. */
export type RecordMerge =
  | { status: 'applied'; env: Envelope; record: NodeRecord }
  | { status: 'stale' }
  | { status: 'rejected'; reason: string }
  /** A record of this node, newer than the one held: kept out (Membership signs ours again above it). */
  | { status: 'outlived'; env: Envelope; record: NodeRecord }

/** NodeRecords holds the records map with its admission rules. Not for concurrent use; every call is synchronous. */
export class NodeRecords {
  readonly map = new LwwMap(recordAuthorizer)
  /** Versions of forgotten records, so anti-entropy cannot bring them back. */
  private readonly forgotten = new Map<string, string>()
  /** First key seen for each name: a host cannot speak in another host's name. */
  private readonly nameOwner = new Map<string, string>()
  /** This node's key: its records come from own(), and one from a peer never replaces them. */
  private readonly selfKey: string
  /** isLeft tells whether a name's owner has left (its name is then free). */
  private readonly isLeft: (keyId: string) => boolean

  private readonly gate: RecordGate | undefined
  /** Keys whose record is held and that were not members when it was merged (bounded by MAX_PENDING_RECORDS; recount() re-judges them). */
  private readonly pending = new Set<string>()

  constructor(self: { keyId: string; name: string }, isLeft: (keyId: string) => boolean, gate?: RecordGate) {
    this.nameOwner.set(self.name, self.keyId)
    this.selfKey = self.keyId
    this.isLeft = isLeft
    this.gate = gate
  }

  /** merge takes a record envelope from gossip or anti-entropy and says what it did. */
  merge(input: unknown): RecordMerge {
    const env = input as Envelope
    const key = typeof env?.key === 'string' ? env.key : ''
    const forgottenAt = this.forgotten.get(key)
    if (forgottenAt !== undefined && typeof env.hlc === 'string' && env.hlc <= forgottenAt) return { status: 'stale' }
    const before = this.map.get(key)
    const r = this.map.merge(input)
    if (r.status === 'rejected') return { status: 'rejected', reason: r.reason }
    if (r.status === 'stale') return { status: 'stale' }
    const record = env.value as NodeRecord
    if (env.author === this.selfKey) {
      this.map.restore(key, before)
      return { status: 'outlived', env, record }
    }
    const refused = this.gate?.refuse(env.author, record) ?? this.full(env.author, record, before === undefined)
    if (refused !== undefined) {
      this.map.restore(key, before)
      return { status: 'rejected', reason: refused }
    }
    // A name admitted for this key is its own, whoever claimed it first.
    let owner = this.gate?.boundKey(record.name) === env.author ? undefined : this.nameOwner.get(record.name)
    if (this.gate !== undefined && owner !== undefined && owner !== env.author && this.map.get(StoreKey.nodeRecord(owner)) !== undefined) {
      // A member keeps its name from a key that is not one, even while Left.
      const ownerIn = this.gate.admitted(owner, this.record(owner))
      const authorIn = this.gate.admitted(env.author, record)
      if (ownerIn && !authorIn) {
        this.map.restore(key, before)
        return { status: 'rejected', reason: 'node record claims the name of an admitted node' }
      }
      // A member takes the name from a key that is not one; two keys that are not members may
      // both ask for a name (both are listed Pending, and the operator approves one by key id).
      if (!ownerIn) owner = undefined
    }
    if (owner !== undefined && owner !== env.author && !this.isLeft(owner) && this.map.get(StoreKey.nodeRecord(owner)) !== undefined) {
      // Undo: another key already owns this name.
      this.map.restore(key, before)
      return { status: 'rejected', reason: 'node record claims a name another node key owns' }
    }
    this.nameOwner.set(record.name, env.author)
    this.forgotten.delete(key)
    // Judged when new or pending (a member's every record is not judged again: recount() runs on admission changes).
    if (this.gate !== undefined && (before === undefined || this.pending.has(env.author))) {
      if (this.gate.admitted(env.author, record)) this.pending.delete(env.author)
      else this.pending.add(env.author)
    }
    return { status: 'applied', env, record }
  }

  /** full says why a record must be refused for room: a new key past MAX_NODE_RECORDS, or a new key that is not a member past MAX_PENDING_RECORDS. */
  private full(keyId: string, record: NodeRecord, isNew: boolean): string | undefined {
    if (!isNew) return undefined
    if (this.map.size > MAX_NODE_RECORDS) return `too many node records (${MAX_NODE_RECORDS})`
    if (this.gate === undefined || this.pending.size < MAX_PENDING_RECORDS || this.gate.admitted(keyId, record)) return undefined
    return `too many pending hosts (${MAX_PENDING_RECORDS}): approve or delete some`
  }

  /** recount re-judges the pending keys (node admission changed): the admitted leave the count, the rest stay. O(MAX_PENDING_RECORDS). */
  recount(): void {
    for (const k of this.pending) {
      const r = this.record(k)
      if (r === undefined || this.gate?.admitted(k, r) !== false) this.pending.delete(k)
    }
  }

  /** pendingCount is how many records of keys that are not members are held (at most MAX_PENDING_RECORDS). */
  get pendingCount(): number {
    return this.pending.size
  }

  /** own records our own freshly signed envelope (it always wins: our clock moved on). */
  own(env: Envelope): void {
    this.map.merge(env)
  }

  /** record returns a node's current record, or undefined. */
  record(keyId: string): NodeRecord | undefined {
    return this.map.value(StoreKey.nodeRecord(keyId)) as NodeRecord | undefined
  }

  /** forget drops a node's record and frees its name; its version is remembered so anti-entropy cannot bring it back. */
  forget(keyId: string): NodeRecord | undefined {
    const env = this.map.get(StoreKey.nodeRecord(keyId))
    if (env === undefined) return undefined
    const record = env.value as NodeRecord
    this.forgotten.delete(env.key)
    this.forgotten.set(env.key, env.hlc)
    // Insertion order is forgetting order: the oldest goes first.
    if (this.forgotten.size > MAX_FORGOTTEN) this.forgotten.delete(this.forgotten.keys().next().value as string)
    this.map.restore(env.key, undefined)
    this.pending.delete(keyId)
    if (this.nameOwner.get(record.name) === keyId) this.nameOwner.delete(record.name)
    return record
  }
}
