// Network names and limits. Every limit here bounds what a peer holding the cluster key
// can make this agent do; see DESIGN.md "Trust".

import { MAX_ENVELOPE_BYTES } from '../../core/bounds.js'

/** Gossip topics: store deltas (operator-signed), node records (node-signed). Lease messages go point to point (LEASE_PROTOCOL). */
export const Topics = {
  store: '/daemonmesh/v1/store',
  nodes: '/daemonmesh/v1/nodes',
} as const

/**
 * GOSSIP_MESH is gossipsub's mesh and gossip on every topic (network.ts; the scale simulator
 * models the same values). Every node record is a message: a smaller mesh than the library's
 * (D 6) and no flood-publishing keep the duplicates (each one decrypted twice, by pnet and
 * noise) down on small hosts. IHAVE offers only the last heartbeat's messages (the
 * library's default is the last 3): each offer is a frame to Dlazy peers and back, about a
 * fifth of the frames an apply cost every agent of 10 (docs/membership.md, "Gossip per
 * apply"), and a host that misses a message hears of it anyway through the state
 * fingerprint in its next probe ack.
 */
export const GOSSIP_MESH = { D: 4, Dlo: 3, Dhi: 6, Dout: 1, Dlazy: 4, mcacheGossip: 1 } as const

/** The anti-entropy stream protocol (2.0.0: bucketed digests; see docs/architecture.md "Anti-entropy"). */
export const SYNC_PROTOCOL = '/daemonmesh/sync/2.0.0'

/**
 * Bounds of one anti-entropy frame, per map (store, nodes). A frame over one is refused and
 * the exchange ends; the next round starts over. Senders stay within them, so each round
 * repairs at most this much and later rounds do the rest.
 */
export const SYNC_LIMITS = {
  /** (key, hlc, tag) entries in a summary, about 90 bytes each: 4096 is ~370 KiB, and a peer makes us compare at most that many keys. */
  maxSummaryEntries: 4096,
  /** Envelopes sent in one frame: a peer listing every bucket with no entries gets at most this many. */
  maxEnvelopes: 512,
  /** Encoded bytes of the envelopes in one frame; both maps together stay under MAX_SYNC_FRAME_BYTES. */
  maxEnvelopeBytes: 3 * 1024 * 1024,
}

/** The failure detector's probe protocol (ping, and ping-req through another member). */
export const PROBE_PROTOCOL = '/daemonmesh/probe/1.0.0'
/** The probe protocol on long-lived links: many numbered exchanges on one stream (agent/membership/link.ts). */
export const PROBE_LINK_PROTOCOL = '/daemonmesh/probe/2.0.0'

/** The lease's point-to-point protocol (claim, act and release to each voter, answers back), one request per stream: served for older agents, and used with voters that do not serve LEASE_LINK_PROTOCOL. */
export const LEASE_PROTOCOL = '/daemonmesh/lease/1.0.0'
/** The lease protocol on long-lived links: one per voter, numbered requests and answers (agent/lease/carriage.ts). */
export const LEASE_LINK_PROTOCOL = '/daemonmesh/lease/2.0.0'

/** Operations streams (`logs`, `exec`): a signed request forwarded to the host that runs the copy, its output back (agent/ops). */
export const OPS_PROTOCOL = '/daemonmesh/ops/1.0.0'

/** Largest gossip message we publish or accept (a DaemonSet envelope is a few KiB): one envelope, so core's bound on an envelope (checked before a write is stored). */
export const MAX_MESSAGE_BYTES = MAX_ENVELOPE_BYTES

/** Largest anti-entropy frame. */
export const MAX_SYNC_FRAME_BYTES = 8 * 1024 * 1024

/**
 * Bounds on one decoded gossipsub RPC. The library's default leaves subscriptions
 * unbounded (a SUBSCRIBE flood grows the heap without limit); we subscribe to 2 topics.
 */
export const DECODE_RPC_LIMITS = {
  maxSubscriptions: 16,
  maxMessages: 64,
  maxIhaveMessageIDs: 1000,
  maxIwantMessageIDs: 1000,
  maxIdontwantMessageIDs: 1000,
  maxControlMessages: 64,
  maxPeerInfos: 16,
}

/** Largest gossipsub RPC frame accepted from a peer (bytes). */
export const MAX_INBOUND_RPC_BYTES = 1024 * 1024
