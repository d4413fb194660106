// Node admission as this agent applies it (core/node-admission.ts decides): which node keys
// are members. Consulted by membership (a record of a deleted key, of a name admitted for
// another key, or whose peer id is not its signing key's is refused) and by the lease's
// voter set and the API (a pending host is listed, has no vote, and its reports do not
// count). Reads the store's `admission/` entries; remembers, per join token, the keys it
// admitted (a token's `uses`). Synchronous; never blocks.

import type { LwwMap } from '../core/crdt.js'
import { Prefix, StoreKey } from '../core/keyspace.js'
import { admissionValueSchema, checkJoin, judgeNode, type Verdict } from '../core/node-admission.js'
import type { NodeRecord } from '../core/node-record.js'

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
  /** Keys each join token admitted here, by token id: a token admits at most `uses` keys. */
  private readonly tokenKeys = new Map<string, Set<string>>()
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

  private token(keyId: string, record: NodeRecord): 'ok' | string | undefined {
    if (record.join === undefined) return undefined
    const why = checkJoin(record.join, record.name, this.opts.trusted, this.opts.wall())
    if (why !== undefined) return why
    const { id, uses } = record.join.token
    let keys = this.tokenKeys.get(id)
    if (keys === undefined) this.tokenKeys.set(id, (keys = new Set()))
    if (!keys.has(keyId)) {
      if (uses !== undefined && keys.size >= uses) return `join token used up (${uses} keys)`
      keys.add(keyId)
    }
    return 'ok'
  }
}
