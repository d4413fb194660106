// What the lease's claimant works with: an attempt on one DaemonSet's slot, the reconciler's
// wish behind it, and the claimant's options. Types only.

import type { Logger } from 'pino'
import type { SlotKind } from '../../core/lease.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { LeaseFleet } from './fleet-view.js'
import type { OwnVote, Request } from './voter.js'

/** Phase of an attempt: see claimant.ts's header. */
export type AttemptPhase = 'claiming' | 'announcing' | 'granted' | 'acting'

/** Attempt is this host's claim on one DaemonSet's slot. */
export interface Attempt {
  ds: string
  kind: SlotKind
  slot: number
  term: number
  revision: string
  /** The hash of the voter set and f the claim was made against (core/lease.ts viewOf). */
  view: string
  quorum: number
  voters: Set<string>
  /** Monotonic ms the claim was sent: the grant is trusted until sentAt + TTL/2. */
  sentAt: number
  grants: Set<string>
  /** Voters that refused the claim: once a majority can no longer grant it, it is abandoned at once. */
  refusals: Set<string>
  /** The slot's highest term each refusal told (core/lease.ts termSeenIn). */
  seen: number[]
  /** Refusals for a stale term alone. */
  stale: number
  acks: Set<string>
  phase: AttemptPhase
  /** A host behind this one in line claimed the same slot meanwhile (it yields: Claimant.rival); a failure then costs no cool-down. */
  rivalBehind: boolean
}

/** Wish is what the reconciler last asked of a DaemonSet: move this host's copy to `revision` under a slot of `kind`. */
export interface Wish {
  revision: string
  kind: SlotKind
}

export interface ClaimantOptions {
  /** This host's key id: answers addressed to it are ours. */
  keyId: string
  /** This host's node name: its place in line is by name. */
  selfName: () => string
  /** Grant lifetime at the voters; this host acts only in the first half. */
  ttlMs: number
  timings: Pick<Timings['lease'], 'claimCutoffMs' | 'turnSpacingMs' | 'jitterMinMs' | 'jitterMaxMs'>
  fleet: LeaseFleet
  /** This agent's own voter. */
  own: OwnVote
  clock: Clock
  /**
   * send delivers a claim, act or release to each of `voters` (never this host: its own vote
   * goes through `own`); their answers come back through hear(). Resolves when every
   * exchange ended, answered or not.
   */
  send: (msg: Request, voters: readonly string[]) => Promise<void>
  /**
   * warm opens the way to each of `voters` ahead of a claim (a link, dialling when not
   * connected), so that the claim, when this host's turn comes, does not wait for a
   * handshake with a voter busy with everyone's. Must not block; failures are the claim's
   * to meet. Default: none.
   */
  warm?: (voters: readonly string[]) => void
  /** random returns an integer in [0, n): jitter and slot choice. Default crypto.randomInt. */
  random?: (n: number) => number
  log: Logger
}
