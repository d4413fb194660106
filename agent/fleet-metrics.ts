// The fleet's DaemonSets as Prometheus series (kube-state-metrics' names; core/kube-state.ts
// computes them): a prom-client registry refilled from the agent's view of the fleet at
// every scrape. Nothing here reads the network or the clock but through its source.

import { Counter, Gauge, Registry } from 'prom-client'
import { kubeStateFamilies, type StoredDaemonSet } from '../core/kube-state.js'
import type { NodeRecord } from '../core/node-record.js'

/** FleetSource is what the series are computed from; called on every scrape, must not block. */
export interface FleetSource {
  daemonSets(): StoredDaemonSet[]
  members(): NodeRecord[]
  now(): number
}

/** FleetMetrics holds the kube-state-metrics families of one agent's view of the fleet. */
export class FleetMetrics {
  readonly registry = new Registry()
  private readonly source: FleetSource
  private readonly metrics = new Map<string, Gauge | Counter>()

  constructor(source: FleetSource) {
    this.source = source
    for (const f of kubeStateFamilies([], [], 0)) {
      const opts = { name: f.name, help: f.help, labelNames: [...f.labelNames], registers: [this.registry] }
      this.metrics.set(f.name, f.type === 'gauge' ? new Gauge(opts) : new Counter(opts))
    }
  }

  /** text recomputes every series from the source and returns the exposition. */
  async text(): Promise<string> {
    for (const f of kubeStateFamilies(this.source.daemonSets(), this.source.members(), this.source.now())) {
      const m = this.metrics.get(f.name)
      if (m === undefined) continue
      m.reset()
      for (const s of f.samples) m.inc(s.labels, s.value)
    }
    return this.registry.metrics()
  }
}
