// Agent metrics (prom-client), served on the API at /metrics. One registry per agent.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/** Metrics holds the counters the agent components update. */
export class Metrics {
  readonly registry = new Registry()
  /** Envelopes dropped, by source (gossip, sync, api, disk) and map (store, nodes). */
  readonly rejected = new Counter({ name: 'daemonmesh_envelopes_rejected_total', help: 'Envelopes dropped as unsigned, forged, untrusted or malformed', labelNames: ['map', 'source'], registers: [this.registry] })
  readonly applied = new Counter({ name: 'daemonmesh_envelopes_applied_total', help: 'Envelopes that changed a map', labelNames: ['map', 'source'], registers: [this.registry] })
  readonly syncs = new Counter({ name: 'daemonmesh_anti_entropy_total', help: 'Anti-entropy exchanges', labelNames: ['role', 'result'], registers: [this.registry] })
  readonly peers = new Gauge({ name: 'daemonmesh_connected_peers', help: 'Connected libp2p peers', registers: [this.registry] })
  readonly lease = new Counter({ name: 'daemonmesh_lease_messages_total', help: 'Lease messages by type and outcome', labelNames: ['type', 'result'], registers: [this.registry] })
  readonly nodes = new Gauge({ name: 'daemonmesh_nodes', help: 'Known nodes by state', labelNames: ['state'], registers: [this.registry] })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  /** rejectedTotal sums rejections, for health output. */
  async rejectedTotal(): Promise<number> {
    const m = await this.rejected.get()
    return m.values.reduce((a, v) => a + v.value, 0)
  }
}
