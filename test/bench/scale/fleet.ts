// A simulated fleet: N SimAgents on one MemoryHub with the SimNetwork model and one SimClock,
// plus what the run observes of them without touching their code: when each host merged a
// store key (its 'store:change' events), and which hosts declared which others Unreachable
// (the detector's 'node unreachable' warning, read from the log stream).

import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import type { Envelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { defaultConfig } from '../../../agent/config.js'
import { withTimings } from '../../../agent/defaults.js'
import { Metrics } from '../../../agent/metrics.js'
import { Topics } from '../../../agent/network/constants.js'
import { MemoryHub } from '../../helpers/memory-transport.js'
import { OUR_GOSSIPSUB } from './gossip-mesh.js'
import type { LinkParams } from './params.js'
import { SimAgent, type LeaseCount } from './sim-agent.js'
import { SimClock } from './sim-clock.js'
import { SimNetwork } from './sim-network.js'
import { seeded } from '../../helpers/seeded.js'

/** nameOf is host i's node name. */
const nameOf = (i: number): string => `sim-${String(i).padStart(5, '0')}`

export interface FleetOptions {
  nodes: number
  seed: number
  params: LinkParams
  /** Hosts labelled for the rollout (`sim-roll=yes`). */
  rolloutHosts: number
  /** Bootstrap peers each host dials at start: this many hosts chosen at random among those started before it. */
  seeds: number
  /** Each host's connection cap; default the agent's default (config.ts). */
  maxConnections?: number
}

/** debugged tells whether SIM_DEBUG names host `name` (or is '*'). */
function debugged(name: string): boolean {
  const names = (process.env.SIM_DEBUG ?? '').split(',')
  return names.includes(name) || names.includes('*')
}

/** Unreachable is one 'node unreachable' verdict: `by` declared `peer` failed at virtual ms `at`. */
export interface Verdict {
  by: string
  peer: string
  at: number
}

export class Fleet {
  readonly clock = new SimClock()
  readonly net: SimNetwork
  readonly hub: MemoryHub
  readonly agents: SimAgent[] = []
  readonly operator = generateKeyPair()
  readonly leaseCount: LeaseCount = { frames: 0, bytes: 0 }
  readonly verdicts: Verdict[] = []
  readonly random: () => number
  private readonly opts: FleetOptions
  private readonly log: Logger
  private readonly sink: Writable
  private readonly metrics = new Metrics()
  /** Per store key watched: virtual ms each host (by index) merged the watched version, NaN until then. */
  private watched: { key: string; hlc: string; at: Float64Array; count: number } | undefined

  constructor(opts: FleetOptions) {
    this.opts = opts
    // Repeatable for a seed, up to anti-entropy's Math.random peer choice.
    this.random = seeded(opts.seed)
    this.net = new SimNetwork({ clock: this.clock, params: opts.params, gossip: OUR_GOSSIPSUB, topics: Object.values(Topics), capacity: opts.nodes, maxConnections: opts.maxConnections ?? defaultConfig().maxConnections, random: this.random })
    this.hub = new MemoryHub(this.clock, this.net)
    this.net.apart = (a, b) => this.hub.apart(a, b)
    const clock = this.clock
    const verdicts = this.verdicts
    // Warnings only: the 'node unreachable' verdicts are read from here; the rest is dropped.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) {
          if (!line.includes('node unreachable')) continue
          const o = JSON.parse(line) as { node: string; peer: string }
          verdicts.push({ by: o.node, peer: o.peer, at: clock.mono() })
        }
        done()
      },
    })
    this.sink = sink
    this.log = pino({ level: 'warn', base: null, timestamp: false }, sink)
  }

  /** build makes every host (not started); the rollout hosts are chosen at random. */
  async build(): Promise<void> {
    const n = this.opts.nodes
    const roll = new Set<number>()
    while (roll.size < Math.min(n, this.opts.rolloutHosts)) roll.add(Math.floor(this.random() * n))
    const config = { ...defaultConfig(), maxConnections: this.net.maxConnections }
    const timings = withTimings()
    for (let i = 0; i < n; i++) {
      const name = nameOf(i)
      const key = generateKeyPair()
      const transport = this.hub.join(`peer-${name}`, key.id)
      const earlier = new Set<number>()
      while (earlier.size < Math.min(i, this.opts.seeds)) earlier.add(Math.floor(this.random() * i))
      const bootstrap = [...earlier].map((s) => `/memory/peer-${nameOf(s)}/p2p/peer-${nameOf(s)}`)
      const agent = await SimAgent.create({
        name,
        labels: roll.has(i) ? { 'sim-roll': 'yes' } : {},
        keyId: key.id,
        signingKey: parsePrivateKey(key.privateKeyPem),
        transport,
        clock: this.clock,
        config,
        bootstrap,
        trusted: [this.operator.id],
        timings,
        metrics: this.metrics,
        // SIM_DEBUG=NAME[,NAME…] prints those hosts' logs (debug level) on stderr; SIM_DEBUG='*' every host's.
        log:
          debugged(name)
            ? pino({ level: 'debug', base: { node: name }, timestamp: () => `,"vt":${this.clock.mono()}` }, pino.multistream([{ level: 'warn', stream: this.sink }, { level: 'debug', stream: process.stderr }]))
            : this.log.child({ node: name }),
        random: this.random,
        podStartMs: this.opts.params.podStartMs,
        leaseCount: this.leaseCount,
      })
      const index = i
      agent.store.on('store:change', (env) => this.merged(index, env))
      this.agents.push(agent)
    }
  }

  /** start schedules the hosts' starts one after the other, evenly over the next `spreadMs` (a rolling start); the caller runs the clock. */
  start(spreadMs: number): void {
    this.agents.forEach((a, i) => this.clock.after((i * spreadMs) / this.agents.length, () => void a.start()))
  }

  live(): SimAgent[] {
    return this.agents.filter((a) => a.running)
  }

  /** watch starts recording when each host merges version `hlc` of `key`. */
  watch(key: string, hlc: string): void {
    this.watched = { key, hlc, at: new Float64Array(this.agents.length).fill(Number.NaN), count: 0 }
  }

  /** mergedTimes returns the virtual ms each live host merged the watched version (NaN: not yet). */
  mergedTimes(): { times: number[]; count: number } {
    const w = this.watched
    if (w === undefined) return { times: [], count: 0 }
    const times = this.agents.flatMap((a, i) => (a.running ? [w.at[i] as number] : []))
    return { times, count: times.filter((t) => !Number.isNaN(t)).length }
  }

  private merged(index: number, env: Envelope): void {
    const w = this.watched
    if (w === undefined || env.key !== w.key || env.hlc !== w.hlc || !Number.isNaN(w.at[index] as number)) return
    w.at[index] = this.clock.mono()
    w.count++
  }
}
