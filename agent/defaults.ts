// Every internal timing and bound of the agent, in one table. The user-facing ones
// (heartbeat, suspicion, forget, anti-entropy period, lease TTL) are in config.ts; these
// are not flags, but each says what it trades so that a change is a decision, not a guess.
// defaultTimings() is what production runs; tests and the simulator override a few fields.

/** Timings are the agent's internal timings, per component. */
export interface Timings {
  membership: {
    /** After announcing a clean leave, wait this long for gossip to carry it. Default 300 ms: longer delays shutdown, shorter may lose the Left state (peers then take the silence for a failure). */
    leaveFlushMs: number
    /** A lone agent redials its bootstrap peers at most every this many heartbeats. Default 3: fewer spins on a dead bootstrap address, more joins slower. */
    bootstrapRetryBeats: number
    /** Peers dialled per heartbeat while below targetPeers. Default 4: more heals a mesh faster after a partition, at the cost of bursts of handshakes (CPU on small hosts). */
    dialsPerBeat: number
    /** Addresses carried in a node record. Default 32: bounds the record, enough for any host's interfaces. */
    maxAddresses: number
  }
  sync: {
    /** Deadline of one anti-entropy exchange. Default 10 s: a slow peer costs at most this much of a round. */
    exchangeTimeoutMs: number
    /** Inbound exchanges served at once per connection. Default 4: a peer cannot make us diff without bound. */
    maxInboundExchanges: number
  }
  network: {
    /** Deadline of one dial. Default 5 s: a host that is not there costs this much of a mesh repair. */
    dialTimeoutMs: number
  }
  reconciler: {
    /** A pass runs at least this often, whatever triggers arrive. Default 10 s: catches what an event missed, at the cost of one Docker list per period. */
    resyncMs: number
    /** Labelled containers of DaemonSets this agent does not know are left alone this long after start. Default 30 s: time to receive the store from peers before sweeping (an agent restarted with an empty data dir must not remove what it will be told to run). */
    sweepGraceMs: number
    /** Back-off after a failed pull or start: from this, doubling. Default 10 s, as the kubelet. */
    backoffStartMs: number
    /** Back-off cap. Default 5 min, as the kubelet. */
    backoffMaxMs: number
    /** Docker unreachable: retry after this, doubling. Default 1 s: notices a restarted engine quickly. */
    dockerRetryStartMs: number
    /** Docker retry cap. Default 30 s. */
    dockerRetryMaxMs: number
    /** While an update waits for a slot or for minReadySeconds, passes run this often. Default 1 s: lower reacts sooner to grants, costs Docker lists. */
    rolloutPollMs: number
  }
  lease: {
    /** Upkeep period (timeouts of claims, recovery of holders, expiry of grants). Default 500 ms. */
    tickMs: number
    /** A claim or an act that found no majority within min(TTL/2, this) is abandoned and retried. Default 3 s: longer waits out slow voters, shorter frees split votes sooner. */
    claimCutoffMs: number
    /** Claims are spread by each host's place among the hosts still to update, this much per place. Default 800 ms: wider spacing means fewer split votes and a slower rollout. */
    turnSpacingMs: number
    /** Random jitter added to every claim delay, between these. Default 300-1200 ms: breaks ties between hosts with the same place. */
    jitterMinMs: number
    jitterMaxMs: number
    /** Claims answered per sender per second: a peer cannot make this voter publish without bound. Default 20. */
    answersPerSecond: number
  }
}

/** defaultTimings returns the timings production runs with. */
export function defaultTimings(): Timings {
  return {
    membership: { leaveFlushMs: 300, bootstrapRetryBeats: 3, dialsPerBeat: 4, maxAddresses: 32 },
    sync: { exchangeTimeoutMs: 10_000, maxInboundExchanges: 4 },
    network: { dialTimeoutMs: 5000 },
    reconciler: {
      resyncMs: 10_000,
      sweepGraceMs: 30_000,
      backoffStartMs: 10_000,
      backoffMaxMs: 300_000,
      dockerRetryStartMs: 1000,
      dockerRetryMaxMs: 30_000,
      rolloutPollMs: 1000,
    },
    lease: { tickMs: 500, claimCutoffMs: 3000, turnSpacingMs: 800, jitterMinMs: 300, jitterMaxMs: 1200, answersPerSecond: 20 },
  }
}

/** DeepPartial lets a test override a few timings. */
export type TimingOverrides = { [C in keyof Timings]?: Partial<Timings[C]> }

/** withTimings returns the defaults with `over` applied. */
export function withTimings(over: TimingOverrides = {}): Timings {
  const d = defaultTimings()
  return {
    membership: { ...d.membership, ...over.membership },
    sync: { ...d.sync, ...over.sync },
    network: { ...d.network, ...over.network },
    reconciler: { ...d.reconciler, ...over.reconciler },
    lease: { ...d.lease, ...over.lease },
  }
}
