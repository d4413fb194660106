// Network names and limits. Every limit here bounds what a peer holding the cluster key
// can make this agent do; see DESIGN.md "Trust".

/** Gossip topics: store deltas (operator-signed), node records (node-signed), lease messages (node-signed by gossip). */
export const Topics = {
  store: '/daemonmesh/v1/store',
  nodes: '/daemonmesh/v1/nodes',
  lease: '/daemonmesh/v1/lease',
} as const

/** The anti-entropy stream protocol. */
export const SYNC_PROTOCOL = '/daemonmesh/sync/1.0.0'

/** The failure detector's probe protocol (ping, and ping-req through another member). */
export const PROBE_PROTOCOL = '/daemonmesh/probe/1.0.0'

/** The lease's point-to-point protocol (claim, act and release to each voter, answers back). */
export const LEASE_PROTOCOL = '/daemonmesh/lease/1.0.0'

/** Largest gossip message we publish or accept (a DaemonSet envelope is a few KiB). */
export const MAX_MESSAGE_BYTES = 256 * 1024

/** Largest anti-entropy frame. */
export const MAX_SYNC_FRAME_BYTES = 8 * 1024 * 1024

/**
 * Bounds on one decoded gossipsub RPC. The library's default leaves subscriptions
 * unbounded (a SUBSCRIBE flood grows the heap without limit); we subscribe to 3 topics.
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
