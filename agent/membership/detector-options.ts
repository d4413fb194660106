// What the failure detector (detector.ts) is given, and the node states it reports. Types only.

import type { Logger } from 'pino'
import type { Random } from '../../core/swim.js'
import type { Clock } from '../clock.js'
import type { Timings } from '../defaults.js'
import type { Metrics } from '../metrics.js'
import type { Transport } from '../transport.js'

/** NodeState is a node's state as the API shows it; a suspected node is still Alive. */
export type NodeState = 'Alive' | 'Unreachable' | 'Left'

export interface DetectorOptions {
  transport: Pick<Transport, 'open' | 'serve' | 'publish' | 'onConnect' | 'onDisconnect' | 'connectedPeers' | 'hangUp'>
  clock: Clock
  random: Random
  /** This agent's key id. */
  keyId: string
  /** The protocol period (`--heartbeat`). */
  periodMs: number
  /** The suspicion timeout's floor (`--suspicion`): see core/swim.ts suspicionBounds. */
  suspicionMs: number
  /** A member that is down and silent this long is forgotten. */
  forgetMs: number
  timings: Timings['membership']
  /** incarnation returns this agent's own incarnation. */
  incarnation(): number
  /** startedAt returns when this agent's process started (its record's startedAt). */
  startedAt(): number
  /** refute must raise our incarnation above `incarnation` and publish our record. Synchronous; must not block. */
  refute(incarnation: number): void
  /** state compares this agent's replicated state with members' through the probes (see Prober's fingerprint); absent, acks carry none. */
  state?: StateFingerprint
  /** forgotten is told that a member was dropped: its record must go too. */
  forgotten(keyId: string): void
  metrics: Metrics
  log: Logger
}

/** StateFingerprint is anti-entropy's side of the probes: this agent's fingerprint, and what to do when a member's differs. */
export interface StateFingerprint {
  fingerprint(): string | undefined
  differs(peerId: string): void
}
