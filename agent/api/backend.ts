// What the API may see and do of its agent: a narrow interface, so that api/ depends on
// no agent internals (and the agent on api/, never the reverse). Types only.

import type { BatchMergeResult, LwwMap, MergeResult } from '../../core/crdt.js'
import type { NodeRecord } from '../../core/node-record.js'
import type { NodeView } from '../membership/membership.js'

/** SlotView is one busy update slot as this agent, a voter, sees it. */
export interface SlotView {
  ds: string
  kind: string
  slot: number
  /** The holder's node name (its key id when unknown). */
  holder: string
  term: number
  /** The revision the holder moves to. */
  revision: string
  acting: boolean
}

/** NodeListing is a node as the API lists it: `pending` says why a host not yet admitted is not a member. */
export type NodeListing = NodeView & { pending?: string }

/** ApiBackend is the agent as the API serves it. Reads must not block. */
export interface ApiBackend {
  /** health returns the agent's summary (GET /v1/health). */
  health(): Promise<Record<string, unknown>>
  /** metrics returns the Prometheus exposition. */
  metrics(): Promise<{ contentType: string; text: string }>
  /** nodes lists every known node with its state, this one included (deleted ones left out). */
  nodes(): NodeListing[]
  /** voters lists the key ids of the lease's voter set as this agent sees it (admitted members that have not left). */
  voters(): string[]
  /** members are the records of the nodes that count for placement (Alive and Unreachable). */
  members(): NodeRecord[]
  /** store reads the replicated store. */
  readonly store: Pick<LwwMap, 'get' | 'live'>
  /** slots lists the busy update slots. */
  slots(): SlotView[]
  /** trusts says whether an author is a trusted operator key. */
  trusts(author: string): boolean
  /** refuse counts a write refused before it reached the store. */
  refuse(why: 'untrusted'): void
  /** write applies a signed envelope: verified, persisted, then gossiped. */
  write(input: unknown): Promise<MergeResult>
  /** writeAll applies signed envelopes as one write (all verified before any is kept), persisted, then gossiped together. */
  writeAll(inputs: unknown[]): Promise<BatchMergeResult>
  /**
   * operate runs a signed logs or exec request on the hosts it names, handing each host's
   * frames to `sink` until done or `signal` aborts; throws an error with an HTTP `status`
   * when refused before any host is asked.
   */
  operate(request: unknown, stdin: Uint8Array | AsyncIterable<Uint8Array> | undefined, sink: (frame: Record<string, unknown>) => Promise<void>, signal: AbortSignal): Promise<void>
  /** now is the wall time status is computed at. */
  now(): number
}
