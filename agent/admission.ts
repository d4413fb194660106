// Node admission as this agent applies it (core/node-admission.ts decides): which node keys
// are members. Consulted by membership (a record of a deleted key, of a name admitted for
// another key, or whose peer id is not its signing key's is refused) and by the lease's
// voter set and the API (a pending host is listed, has no vote, and its reports do not
// count). Reads the store's `admission/` entries; remembers, per join token, the keys that
// present it (a token's `uses`, fleet-wide). Synchronous; never blocks.

import type { LwwMap } from '../core/crdt.js'
import { Prefix, StoreKey } from '../core/keyspace.js'
import { admissionValueSchema, checkJoin, judgeNode, type Verdict } from '../core/node-admission.js'
import type { NodeRecord } from '../core/node-record.js'

/** Keys remembered per join token (a `uses` above it counts as unbounded: no more records are held, MAX_NODE_RECORDS). */
export const MAX_TOKEN_KEYS = 20_000

export interface AdmissionOptions {
  /** `admission: open`: every key is a member (labs). */
  open: boolean
  store: Pick<LwwMap, 'get' | 'all'>
  /** trusted says whether a key is a trusted operator key (join tokens must be signed by one). */
  trusted: (author: string) => boolean
  /** The libp2p peer id of a node key: a record must name its own. */
  peerIdOf: (keyId: string) => string | undefined
  wall: () => number
}

/** Admission answers who is a member. Not for concurrent use; every call is synchronous. */
export class Admission {
  private readonly opts: AdmissionOptions
  /** Keys seen presenting each join token that has `uses`, with their join times, by token id (at most `uses` or MAX_TOKEN_KEYS a token). */
  private readonly tokenKeys = new Map<string, Map<string, number>>()
  /** Keys named by `delete node` tombstones, recomputed when an admission entry changes. */
  private deleted: Set<string> | undefined

  constructor(opts: AdmissionOptions) {
    this.opts = opts
  }

  get open(): boolean {
    return this.opts.open
  }

  /** changed is called when an `admission/` entry changed. */
  changed(): void {
    this.deleted = undefined
  }

  private deletedKeys(): Set<string> {
    if (this.deleted === undefined) {
      this.deleted = new Set()
      for (const e of this.opts.store.all()) {
        if (!e.key.startsWith(Prefix.admission)) continue
        const keyId = admissionValueSchema.safeParse(e.value).data?.keyId
        if (e.op === 'delete' && keyId !== undefined) this.deleted.add(keyId)
      }
      // A key admitted again under some name is not deleted.
      for (const e of this.opts.store.all()) {
        const keyId = admissionValueSchema.safeParse(e.value).data?.keyId
        if (e.key.startsWith(Prefix.admission) && e.op === 'put' && keyId !== undefined) this.deleted.delete(keyId)
      }
    }
    return this.deleted
  }

  /** boundKey returns the key an operator admitted under `name`, if any. */
  boundKey(name: string): string | undefined {
    const e = this.opts.store.get(StoreKey.admission(name))
    return e?.op === 'put' ? admissionValueSchema.safeParse(e.value).data?.keyId : undefined
  }

  /** verdict returns a node key's standing, given its record. */
  verdict(keyId: string, record: NodeRecord): Verdict {
    const entry = this.opts.store.get(StoreKey.admission(record.name))
    return judgeNode({ open: this.opts.open, name: record.name, key: keyId, entry, deleted: this.deletedKeys().has(keyId), token: this.token(keyId, record) })
  }

  /** admitted says whether a node key is a member (it votes, and its reports count). */
  admitted(keyId: string, record: NodeRecord | undefined): boolean {
    return record !== undefined && this.verdict(keyId, record).state === 'admitted'
  }

  /**
   * refuse says why a node record may not be taken at all, or undefined:
   * 1. its peer id is not its signing key's (a key speaking for another peer);
   * 2. its key was deleted and not admitted again;
   * 3. its name is admitted for another key (the admitted one wins, Left or not).
   */
  refuse(keyId: string, record: NodeRecord): string | undefined {
    const peerId = this.opts.peerIdOf(keyId)
    if (peerId !== undefined && peerId !== record.peerId) return 'node record names another peer than its signing key' // 1
    if (this.opts.open) return undefined
    const bound = this.boundKey(record.name)
    if (bound === keyId) return undefined
    if (this.deletedKeys().has(keyId)) return 'node key deleted by an operator' // 2
    if (bound !== undefined) return `the name ${record.name} is admitted for another key` // 3
    return undefined
  }

  /**
   * token judges a record's join token; its `uses` hold across the fleet: of the keys seen
   * presenting the token, the first `uses` by (joinedAt, keyId) are admitted, the rest are
   * Pending. Every agent that holds the same records decides the same, whatever order they
   * came in (docs/security.md "Node admission" says what a partition does).
   */
  private token(keyId: string, record: NodeRecord): 'ok' | string | undefined {
    if (record.join === undefined) return undefined
    const why = checkJoin(record.join, record.name, this.opts.trusted, this.opts.wall())
    if (why !== undefined) return why
    const { token, joinedAt } = record.join
    if (token.uses === undefined) return 'ok'
    let seen = this.tokenKeys.get(token.id)
    if (seen === undefined) this.tokenKeys.set(token.id, (seen = new Map()))
    seen.set(keyId, joinedAt)
    const before = (k: string, j: number): boolean => j < joinedAt || (j === joinedAt && k < keyId)
    let rank = 0
    let last: [string, number] | undefined
    for (const [k, j] of seen) {
      if (before(k, j)) rank++
      if (last === undefined || j > last[1] || (j === last[1] && k > last[0])) last = [k, j]
    }
    // Only the first `uses` can ever be admitted: keep those (at most MAX_TOKEN_KEYS a token).
    if (seen.size > Math.min(token.uses, MAX_TOKEN_KEYS) && last !== undefined) seen.delete(last[0])
    return rank < token.uses ? 'ok' : `join token used up (${token.uses} keys joined with it before this one)`
  }
}
