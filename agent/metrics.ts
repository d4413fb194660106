// Agent metrics (prom-client), served on the API at /metrics: one registry per agent, so
// several agents (or a test's several components) in one process keep separate counts.
// Components update them; nothing here reads the network or the clock.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/** Metrics holds the counters and gauges the agent components update, and the process's default metrics. */
export class Metrics {
  readonly registry = new Registry()
  /** Envelopes and messages dropped, by map (store, nodes, lease) and source (gossip, sync, api, disk, stream). */
  readonly rejected = new Counter({ name: 'daemonmesh_envelopes_rejected_total', help: 'Envelopes dropped as unsigned, forged, untrusted or malformed', labelNames: ['map', 'source'], registers: [this.registry] })
  /** Envelopes that won their key, by map and source: store and membership. */
  readonly applied = new Counter({ name: 'daemonmesh_envelopes_applied_total', help: 'Envelopes that changed a map', labelNames: ['map', 'source'], registers: [this.registry] })
  /** Anti-entropy exchanges by role (initiator, responder) and result (ok, error); responders count only completed ones. */
  readonly syncs = new Counter({ name: 'daemonmesh_anti_entropy_total', help: 'Anti-entropy exchanges', labelNames: ['role', 'result'], registers: [this.registry] })
  readonly syncNudges = new Counter({ name: 'daemonmesh_anti_entropy_nudges_total', help: 'Anti-entropy exchanges started because a probe ack carried a differing state fingerprint', registers: [this.registry] })
  /** Peers connected at the last heartbeat (membership). */
  readonly peers = new Gauge({ name: 'daemonmesh_connected_peers', help: 'Connected libp2p peers', registers: [this.registry] })
  /** Lease messages by type and outcome (lease). */
  readonly lease = new Counter({ name: 'daemonmesh_lease_messages_total', help: 'Lease messages by type and outcome', labelNames: ['type', 'result'], registers: [this.registry] })
  /** Channels this agent opened to voters, by carriage: `link` (a lease link, many requests) or `stream` (one request, to a voter that serves no links) (lease). */
  readonly leaseChannels = new Counter({ name: 'daemonmesh_lease_channels_opened_total', help: 'Channels opened to lease voters, by carriage (link or stream)', labelNames: ['carriage'], registers: [this.registry] })
  /** Known nodes by state (Alive, Unreachable, Left), this one included, at the last heartbeat (membership). */
  readonly nodes = new Gauge({ name: 'daemonmesh_nodes', help: 'Known nodes by state', labelNames: ['state'], registers: [this.registry] })

  constructor() {
    // The event loop delay is sampled every 500 ms, not every 10 ms (the library's default):
    // a timer 100 times a second is a good part of an idle agent's CPU, and a lag worth an
    // alert is far longer than the coarser resolution.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 500 })
  }

  /** rejectedTotal sums rejections, for health output. */
  async rejectedTotal(): Promise<number> {
    const m = await this.rejected.get()
    return m.values.reduce((a, v) => a + v.value, 0)
  }
}
