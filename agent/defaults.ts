// Every internal timing and bound of the agent, in one table. The user-facing ones
// (heartbeat, suspicion, forget, anti-entropy period, lease TTL) are in config.ts; these
// are not flags, but each says what it trades so that a change is a decision, not a guess.
// defaultTimings() is what production runs; tests and the simulator override a few fields.

/** Timings are the agent's internal timings, per component. */
export interface Timings {
  membership: {
    /** After announcing a clean leave, wait this long for gossip to carry it. Default 300 ms: longer delays shutdown, shorter may lose the Left state (peers then take the silence for a failure). */
    leaveFlushMs: number
    /** A lone agent redials its bootstrap peers at most every this many protocol periods (heartbeats). Default 3: fewer spins on a dead bootstrap address, more joins slower. */
    bootstrapRetryBeats: number
    /**
     * A bootstrap dial's deadline starts at the network's dial deadline (5 s) and doubles with
     * each attempt in a row that reached no bootstrap peer, up to this. Default 40 s: a bootstrap
     * host that many hosts join at once (a fleet started together, a site back from an outage)
     * accepts connections late, and a dial abandoned at 5 s wastes the half-done handshake it
     * cost that host, so fixed short deadlines kept an overloaded bootstrap peer overloaded
     * (docs/membership.md); longer waits out a slower host, at the cost of noticing later that a
     * bootstrap address is wrong.
     */
    bootstrapDialMaxMs: number
    /** Peers dialled per protocol period (heartbeat) while below targetPeers. Default 4: more heals a mesh faster after a partition, at the cost of bursts of handshakes (CPU on small hosts). */
    dialsPerBeat: number
    /** Addresses carried in a node record. Default 32: bounds the record, enough for any host's interfaces. */
    maxAddresses: number
    /** A ping unanswered this long is missed and the indirect probes start (a ping that must first connect gets probeDialMs more); at most half the protocol period, and longer when acks have been slow (up to two periods) or this agent is starved (local health). Default 200 ms, a time rather than a share of the period, so a longer period does not make a silent host's suspicion wait longer (memberlist: 500 ms LAN): shorter finds failures sooner but misses more pings to busy hosts (indirect probes, refutation and local health then cover for it), longer leaves less of the period to the indirect probes. */
    probeTimeoutMs: number
    /** What a ping that must first dial its member gets on top of its deadline: a handshake is not an answer time (a dead host refuses at once; only a silent one costs this). Default 500 ms: a noise handshake costs each end about 25 ms of CPU, far more on a starved host; longer leaves a silent host unsuspected longer, since a helper that dials it nacks only after this. */
    probeDialMs: number
    /** Members asked to probe a member that missed a ping (ping-req), k. Default 3 (memberlist's): more rules out a bad link between two hosts more surely, each costs a ping-req and a ping. */
    indirectChecks: number
    /** A suspicion no one confirms times out after this many times the shortest timeout (Lifeguard's max). Default 4: longer gives a lone, possibly wrong, suspicion more time to be refuted; shorter finds failures that few members see sooner. */
    suspicionMaxMult: number
    /** Independent suspicions (beyond the first) that bring the timeout down to its minimum, k in Lifeguard's formula (capped at N - 2). Default 3: more asks more members to agree before acting fast. */
    suspicionConfirmations: number
    /** Members expected to probe a newly suspected member at once, to confirm or clear it (each probes with probability this / (N - 2)). Default 3: more confirms real failures sooner, at a burst of probes per suspicion that does not grow with N. */
    confirmProbes: number
    /** One Unreachable member (at random) is pinged every this many periods, so a healed partition or a host back from a freeze learns it must refute. Default 4: fewer finds them sooner, at one more ping. */
    reconnectPeriods: number
    /** Lifeguard's local health: an agent whose probes fail without helpers' nacks (or that is suspected) stretches its probe timeout and period up to this factor. Default 8 (memberlist's): a starved host slows itself down instead of suspecting healthy peers. */
    awarenessMax: number
    /** Inbound probe channels served at once per connection, and ping-reqs carried out at once per probe link. Default 4: a link and a few one-exchange channels of older agents; a peer cannot make us probe without bound. */
    maxInboundProbes: number
    /** A probe link (one stream carrying every probe to a member) that carried no frame this long is closed by its opener; the answering side waits twice as long. Default 30 s: longer keeps links to members probed rarely (large fleets) at the cost of an idle stream each (a few hundred bytes); shorter reopens more streams. */
    probeLinkIdleMs: number
    /**
     * A change of this node's record (its copies, busy workers, events, labels) is published at
     * once, unless one was published less than this long ago: then once at the end of the
     * window, with every change made meanwhile. Default 200 ms: a copy's update changes the
     * record several times within a few hundred ms (worker busy, stopped, started, ready, its
     * events), and each publication reaches every host; longer sends fewer records in a busy
     * rollout at the cost of later news of the second and later changes. A refutation is never
     * held back.
     */
    recordSpacingMs: number
    /**
     * A record change that touches only what people read about this host's copies (a copy's
     * `waiting` reason, its workers' doings, its events) goes out after a random delay of up
     * to this (never sooner than recordSpacingMs after the last publication), or at once with
     * any other change. Default 2 s: a template change reaches every host it selects at once,
     * and each then pulls the new images and says it waits; published at once, every one of
     * their records reaches every host at the same moment (in the 100-host simulator, each
     * host's CPU went to that burst and the first claims waited for it). The cost: `rollout
     * status` and `describe` learn why a host waits up to 2 s later.
     */
    notesSpreadMs: number
  }
  sync: {
    /** Deadline of one anti-entropy exchange. Default 10 s: a slow peer costs at most this much of a round. */
    exchangeTimeoutMs: number
    /** Inbound exchanges served at once per connection. Default 4: a peer cannot make us diff without bound. */
    maxInboundExchanges: number
    /** A probe ack whose state fingerprint differs from ours starts an exchange with its sender, at most this often. Default 1 s: while a change spreads every fingerprint differs for a moment; longer repairs drift later, shorter diffs more during a rollout. */
    nudgeSpacingMs: number
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
  runtime: {
    /**
     * Deadline of a Docker call that reads (list, inspect a container or an image). Default 10 s:
     * a pass waits for its reads (the reports need them), so a read that hangs (a container whose
     * engine-side lock is held by a stop that never returns) delays every copy's next decision by
     * up to this much; shorter gives up on an engine that is merely slow (a loaded Raspberry-class
     * host answers an inspect in well under a second). Reads of a copy whose worker is busy, or
     * whose stop failed, are skipped: its last state is reported instead.
     */
    readMs: number
    /**
     * Deadline of a Docker call that changes something (create, start, remove, a volume, an exec's
     * setup). Default 30 s: a create on a slow SD card under load can take seconds; a hung one
     * stalls only its copy, which then reports the error and is retried with back-off.
     */
    writeMs: number
    /**
     * A stop may take the container's grace period (terminationGracePeriodSeconds) and then the
     * SIGKILL; its deadline is the grace plus this. Default 15 s: a killed process that takes long
     * to exit (large memory to free, a slow filesystem) is not taken for a hung engine; shorter
     * finds a wedged stop (a frozen containerd shim) sooner. A stop that passes it is reported as
     * KillContainerError and retried with back-off; the copy is not replaced meanwhile.
     */
    stopMarginMs: number
    /**
     * An image pull that reports no progress for this long is abandoned (the kubelet's
     * image-pull-progress-deadline, 1 min by default). Default 60 s: a pull that advances is
     * never cut, however large the image; a registry that stalls is retried with back-off.
     */
    pullStallMs: number
    /**
     * An init container that has not exited after this long is stopped and counted as failed
     * (Init:Error, retried with back-off). Default 10 min: CNI installers and config renderers
     * finish in seconds; one waiting on something that never comes would otherwise hold its
     * copy's start for ever (the kubelet has no such deadline, but a pod there can be deleted
     * and rescheduled).
     */
    initMs: number
  }
  files: {
    /** Agent-written pod files (configMap, downwardAPI) are rewritten at least this often, besides on every store change. Default 30 s: a change missed (an agent restart) reaches files within it, as kubelet's sync of about a minute; costs a few file reads per pod. */
    refreshMs: number
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
    /** Claims answered per sender per second: a peer cannot make this voter persist and answer without bound. Default 20. */
    answersPerSecond: number
    /** Deadline of one lease exchange (dial if needed, request, answer). Default 2.5 s: longer waits out a voter's slow disk (it saves its vote before answering), shorter gives up on a dead voter sooner; beyond claimCutoffMs an answer only reaches an abandoned claim. */
    exchangeTimeoutMs: number
    /** Inbound lease channels served at once per connection, and requests judged at once per lease link (and waiting for answers on one, at the claimant). Default 16: a peer cannot make this voter judge more at once; enough for a host updating several DaemonSets (a claim, act or release each). */
    maxInboundStreams: number
    /** Lease channels this agent opens at once to voters (links being opened, and one-request streams to older voters). Default 32: more reaches a large fleet's majority sooner, fewer bounds bursts of dials and handshakes (CPU on small hosts). */
    maxOpenChannels: number
    /** A lease link that carried nothing this long is closed by its opener (the voter waits twice as long). Default 30 s, as the probe links: longer keeps idle streams to voters between rollouts, shorter reopens more. */
    linkIdleMs: number
    /** Lease links a voter serves at once per connection. Default 2: one per claimant, and one more while a failed one is replaced. */
    maxInboundLinks: number
  }
}

/** defaultTimings returns the timings production runs with. */
export function defaultTimings(): Timings {
  return {
    membership: {
      leaveFlushMs: 300,
      bootstrapRetryBeats: 3,
      bootstrapDialMaxMs: 40_000,
      dialsPerBeat: 4,
      maxAddresses: 32,
      probeTimeoutMs: 200,
      probeDialMs: 500,
      indirectChecks: 3,
      suspicionMaxMult: 4,
      suspicionConfirmations: 3,
      confirmProbes: 3,
      reconnectPeriods: 4,
      awarenessMax: 8,
      maxInboundProbes: 4,
      probeLinkIdleMs: 30_000,
      recordSpacingMs: 200,
      notesSpreadMs: 2000,
    },
    sync: { exchangeTimeoutMs: 10_000, maxInboundExchanges: 4, nudgeSpacingMs: 1000 },
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
    runtime: { readMs: 10_000, writeMs: 30_000, stopMarginMs: 15_000, pullStallMs: 60_000, initMs: 600_000 },
    files: { refreshMs: 30_000 },
    lease: { tickMs: 500, claimCutoffMs: 3000, turnSpacingMs: 800, jitterMinMs: 300, jitterMaxMs: 1200, answersPerSecond: 20, exchangeTimeoutMs: 2500, maxInboundStreams: 16, maxOpenChannels: 32, linkIdleMs: 30_000, maxInboundLinks: 2 },
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
    runtime: { ...d.runtime, ...over.runtime },
    files: { ...d.files, ...over.files },
    lease: { ...d.lease, ...over.lease },
  }
}
