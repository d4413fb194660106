// The agent: builds its parts and wires them together. Start order: the store first (an
// agent restarted from its data dir has its DaemonSets before it talks to anyone), then
// the network, the lease's votes, membership, anti-entropy, the reconciler, and the API
// last. A failed start stops whatever had started, in reverse. Stop order is the reverse
// of start, with the leave announced before the network closes.

import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { checkStoreValue } from '../core/admission.js'
import type { MergeResult } from '../core/crdt.js'
import { StoreKey, parseStoreKey } from '../core/keyspace.js'
import type { NodeRecord } from '../core/node-record.js'
import { applyOverlay, type NodeOverlay } from '../core/overlay.js'
import type { Taint } from '../core/types.js'
import { VERSION } from '../core/version.js'
import type { ApiBackend } from './api/backend.js'
import { ApiServer } from './api/server.js'
import { AgentClock, systemClock, type Clock } from './clock.js'
import type { AgentConfig } from './config.js'
import { defaultTimings, type Timings } from './defaults.js'
import { FileRefresher } from './file-refresher.js'
import { readHostInfo } from './host.js'
import { loadTrust } from './identity.js'
import { FleetView } from './lease/fleet-view.js'
import { Lease } from './lease/lease.js'
import { FileVoteStore } from './lease/votes.js'
import { Membership } from './membership/membership.js'
import { Metrics } from './metrics.js'
import { Topics } from './network/constants.js'
import { loadSecretKey } from './secret-key.js'
import { keyIdOfPeerPublicKey, loadClusterKey, loadOrCreatePeerKey, nodeSigningKey } from './network/keys.js'
import { Network } from './network/network.js'
import { Reconciler } from './reconciler/reconciler.js'
import type { ContainerRuntime } from './runtime/runtime.js'
import { Store } from './store/store.js'
import { AntiEntropy } from './store/sync.js'

/**
 * AgentSeams replace parts of the agent: production passes none. A test or a simulator
 * hands in its own clock, wraps the container runtime, overrides internal timings, and
 * hears when the agent has started.
 */
export interface AgentSeams {
  clock?: Clock
  runtime?: (runtime: ContainerRuntime) => ContainerRuntime
  timings?: Timings
  started?: (agent: Agent) => void
}

/** The parts an agent is made of, built by Agent.start. */
interface Parts {
  metrics: Metrics
  store: Store
  network: Network
  membership: Membership
  sync: AntiEntropy
  lease: Lease
  reconciler: Reconciler | undefined
  files: FileRefresher | undefined
  api: ApiServer
}

/** Stack runs the stop functions of what started, in reverse order. */
class Stack {
  private readonly undo: (() => unknown)[] = []
  push(stop: () => unknown): void {
    this.undo.push(stop)
  }
  async unwind(log: Logger): Promise<void> {
    for (const stop of this.undo.reverse()) await Promise.resolve(stop()).catch((err: unknown) => log.warn({ err }, 'stopping a part after a failed start failed'))
  }
}

export class Agent {
  readonly config: AgentConfig
  readonly log: Logger
  readonly network: Network
  private readonly parts: Parts
  /** The labels and taints of this node's configuration, before the operator's overlay. */
  private own: { labels: Record<string, string>; taints: Taint[] } = { labels: {}, taints: [] }

  private constructor(config: AgentConfig, log: Logger, parts: Parts) {
    this.config = config
    this.log = log
    this.parts = parts
    this.network = parts.network
  }

  /** start brings the agent up; on failure it stops whatever had started and rethrows. */
  static async start(config: AgentConfig, log: Logger, seams: AgentSeams = {}): Promise<Agent> {
    const clock = seams.clock ?? systemClock
    const timings = seams.timings ?? defaultTimings()
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    const metrics = new Metrics()
    const hlc = new AgentClock(clock)
    const { key: peerKey, created } = await loadOrCreatePeerKey(join(config.dataDir, 'peer.key'))
    if (created) log.info('generated a new peer key')
    const { psk, created: pskCreated } = await loadClusterKey(config.clusterKey, config.clusterKey === join(config.dataDir, 'cluster.key'))
    if (pskCreated) log.warn({ file: config.clusterKey }, 'generated a cluster key: copy it to every host that should join this cluster')
    const { key: secretKey, created: secretKeyCreated } = await loadSecretKey(config.secretKey, config.secretKey === join(config.dataDir, 'secret.key'))
    if (secretKeyCreated) log.warn({ file: config.secretKey }, 'generated a secret key: copy it to every host that runs Secrets, and give it to the CLI (--secret-key)')
    log.info({ secretKeyId: secretKey?.id ?? 'none' }, secretKey === undefined ? 'no secret key: pods that need a Secret are not started here' : 'secret key loaded')
    const trusted = await loadTrust(config, log)
    const apiToken = config.apiTokenFile === undefined ? undefined : (await readFile(config.apiTokenFile, 'utf8')).trim()
    if (apiToken !== undefined && apiToken.length < 16) throw new Error(`apiTokenFile ${config.apiTokenFile}: the token must have at least 16 characters`)
    const keyId = keyIdOfPeerPublicKey(peerKey.publicKey.raw)

    const started = new Stack()
    try {
      const store = await Store.open({ path: join(config.dataDir, 'store'), trusted, checkValue: checkStoreValue, clock: hlc, metrics, log: log.child({ component: 'store' }) })
      started.push(() => store.close())
      const network = await Network.create({ privateKey: peerKey, listen: config.listen, psk, mdns: config.mdns, maxConnections: config.maxConnections, timings, logger: log.child({ component: 'network' }) })
      started.push(() => network.stop())
      network.subscribe(Topics.store, (msg) => store.validate(msg))
      // Probe acks carry anti-entropy's fingerprint; the exchange needs membership's records: bound once both exist.
      let sync: AntiEntropy | undefined
      const membership = new Membership({
        transport: network,
        clock,
        hlc,
        signingKey: nodeSigningKey(peerKey),
        keyId,
        self: { name: config.name, labels: config.labels, taints: config.taints, version: VERSION, ...(await readHostInfo(config.listen, config.nodeIP)) },
        heartbeatMs: config.heartbeatMs,
        suspicionMs: config.suspicionMs,
        forgetMs: config.forgetMs,
        targetPeers: config.targetPeers,
        bootstrap: config.bootstrap,
        state: { fingerprint: () => sync?.fingerprint(), differs: (peer) => sync?.differs(peer) },
        timings,
        metrics,
        log: log.child({ component: 'membership' }),
      })
      const lease = new Lease({
        transport: network,
        clock,
        fleet: new FleetView(membership, store),
        votes: new FileVoteStore(config.dataDir),
        keyId,
        selfName: () => membership.self().name,
        ttlMs: config.leaseTtlMs,
        timings: timings.lease,
        metrics,
        log: log.child({ component: 'lease' }),
      })
      await lease.start()
      started.push(() => lease.stop())
      sync = new AntiEntropy({
        transport: network,
        clock,
        maps: [
          { name: 'store', map: store.map, merge: (envs) => store.mergeSynced(envs) },
          { name: 'nodes', map: membership.records, merge: async (envs) => envs.filter((e) => membership.merge(e, 'sync') === 'accept').length },
        ],
        periodMs: config.antiEntropyMs,
        timings,
        metrics,
        log: log.child({ component: 'anti-entropy' }),
      })
      let runtime: ContainerRuntime | undefined
      if (config.docker !== 'none') {
        // Docker's client is loaded only when the agent runs containers.
        const { DockerRuntime } = await import('./runtime/docker.js')
        const docker = new DockerRuntime(config.docker, log.child({ component: 'runtime' }), { concurrency: config.dockerConcurrency, timings: timings.runtime, podsDir: join(config.dataDir, 'pods'), secretsDir: config.secretsDir })
        runtime = seams.runtime === undefined ? docker : seams.runtime(docker)
      }
      const reconciler =
        runtime === undefined
          ? undefined
          : new Reconciler({ runtime, clock, store: store.map, ...(secretKey === undefined ? {} : { secretKey }), node: membership, slots: lease.slots, timings: timings.reconciler, log: log.child({ component: 'reconciler' }) })
      const files =
        runtime === undefined
          ? undefined
          : new FileRefresher({ runtime, store: store.map, ...(secretKey === undefined ? {} : { secretKey }), self: () => membership.self(), clock, periodMs: timings.files.refreshMs, log: log.child({ component: 'files' }) })
      const parts: Omit<Parts, 'api'> = { metrics, store, network, membership, sync, lease, reconciler, files }
      const api = new ApiServer(backendOf(parts, clock), {
        address: config.api,
        ...(apiToken === undefined ? {} : { token: apiToken }),
        log: log.child({ component: 'api' }),
      })
      const agent = new Agent(config, log, { ...parts, api })
      const self = agent
      self.applyOwn(config.labels, config.taints)
      store.on('store:change', (env) => {
        if (env.key === StoreKey.overlay(config.name)) self.applyOwn(self.own.labels, self.own.taints)
        reconciler?.trigger()
        const kind = parseStoreKey(env.key)?.kind
        if (kind === 'configMap' || kind === 'secret') files?.trigger()
      })
      membership.on('node:self', () => reconciler?.trigger())
      lease.slots.onGranted(() => reconciler?.trigger())
      membership.start()
      started.push(() => membership.stop())
      await sync.start()
      started.push(() => sync.stop())
      reconciler?.start()
      started.push(() => reconciler?.stop())
      files?.start()
      started.push(() => files?.stop())
      await api.listen()
      log.info({ peerId: network.peerId, addresses: network.addresses(), trusted: trusted.length }, 'agent started')
      seams.started?.(agent)
      return agent
    } catch (err) {
      await started.unwind(log)
      throw err
    }
  }

  /**
   * applyOwn sets this node's configured labels and taints (start, SIGHUP) and publishes
   * them with the operator's overlay (`label node`, `taint node`) applied on top.
   */
  applyOwn(labels: Record<string, string>, taints: Taint[]): void {
    this.own = { labels: { ...labels }, taints: taints.map((t) => ({ ...t })) }
    const overlay = this.parts.store.map.value(StoreKey.overlay(this.config.name)) as NodeOverlay | undefined
    this.parts.membership.update(applyOverlay(this.own, overlay))
  }

  /** stop announces the leave, closes the API, stops anti-entropy, closes libp2p and the store. */
  async stop(): Promise<void> {
    const p = this.parts
    this.log.info('agent stopping')
    // Containers keep running while the agent is down (Docker's restart policy).
    p.reconciler?.stop()
    p.files?.stop()
    p.lease.stop()
    await p.membership.leave().catch((err: unknown) => this.log.warn({ err }, 'leave announcement failed'))
    await p.api.close().catch(() => undefined)
    p.sync.stop()
    await p.network.stop().catch((err: unknown) => this.log.warn({ err }, 'closing libp2p failed'))
    await p.store.close()
    this.log.info('agent stopped')
  }
}

/** backendOf is the agent as its API sees it. */
function backendOf(p: Omit<Parts, 'api'>, clock: Clock): ApiBackend {
  const members = (): NodeRecord[] => p.membership.nodes().filter((n) => n.state !== 'Left').map((n) => n.record)
  return {
    store: p.store.map,
    nodes: () => p.membership.nodes(),
    members,
    slots: () => p.lease.busySlots(),
    trusts: (author) => p.store.trusts(author),
    refuse: () => p.metrics.rejected.inc({ map: 'store', source: 'api' }),
    now: () => clock.wall(),
    metrics: async () => ({ contentType: p.metrics.registry.contentType, text: await p.metrics.registry.metrics() }),
    // Verified, synced to disk, then gossiped.
    write: async (input): Promise<MergeResult> => {
      const r = await p.store.apply(input, 'api')
      if (r.status === 'applied') await p.network.publish(Topics.store, new TextEncoder().encode(JSON.stringify(input)))
      return r
    },
    health: async () => {
      const memory = process.memoryUsage()
      return {
        status: 'ok',
        version: VERSION,
        node: p.membership.self().name,
        peerId: p.network.peerId,
        addresses: p.network.addresses(),
        peers: p.network.connectedPeers().length,
        storeDigest: p.store.map.digest(),
        storeEntries: p.store.map.size,
        rejected: await p.metrics.rejectedTotal(),
        heapUsedBytes: memory.heapUsed,
        rssBytes: memory.rss,
      }
    },
  }
}
