// The agent: builds its parts and wires them together. Start order: the store first (an
// agent restarted from its data dir has its DaemonSets before it talks to anyone), then
// the network, the lease's votes, membership, anti-entropy, the reconciler, and the API
// last. A failed start stops whatever had started, in reverse. Stop order is the reverse
// of start, with the leave announced before the network closes.

import { createPrivateKey } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { checkStoreValue } from '../core/admission.js'
import { Prefix, StoreKey, parseStoreKey, refOf } from '../core/keyspace.js'
import type { History } from '../core/history.js'
import type { DaemonSet } from '../core/types.js'
import { signEnvelope } from '../core/envelope.js'
import { admissionValueSchema } from '../core/node-admission.js'
import type { NodeRecord } from '../core/node-record.js'
import { NonceBook } from '../core/ops-request.js'
import { applyOverlay, type NodeOverlay } from '../core/overlay.js'
import type { Taint } from '../core/types.js'
import { VERSION } from '../core/version.js'
import type { ApiBackend, NodeListing } from './api/backend.js'
import { ApiServer } from './api/server.js'
import { loadOrCreateApiTls } from './api/tls-cert.js'
import { AgentClock, systemClock, type Clock } from './clock.js'
import type { AgentConfig } from './config.js'
import { defaultTimings, type Timings } from './defaults.js'
import { FileRefresher } from './file-refresher.js'
import { readHostInfo } from './host.js'
import { Admission } from './admission.js'
import { loadRetired, loadTrust } from './identity.js'
import { loadJoin } from './join.js'
import { FleetView } from './lease/fleet-view.js'
import { Lease } from './lease/lease.js'
import { FileVoteStore } from './lease/votes.js'
import { Membership } from './membership/membership.js'
import { FleetMetrics } from './fleet-metrics.js'
import { Metrics } from './metrics.js'
import { MetricsServer } from './metrics-server.js'
import { Topics } from './network/constants.js'
import { loadSecretKey } from './secret-key.js'
import { keyIdOfPeerPublicKey, loadClusterKey, loadOrCreatePeerKey, nodeSigningKey, peerIdOfKeyId } from './network/keys.js'
import { Network } from './network/network.js'
import { Ops } from './ops/ops.js'
import { OpsTarget } from './ops/target.js'
import { Reconciler } from './reconciler/reconciler.js'
import type { ContainerRuntime } from './runtime/runtime.js'
import { Store } from './store/store.js'
import { AntiEntropy } from './store/sync.js'
import { storeWrites } from './store/writes.js'

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
  ops: Ops
  admission: Admission
  fleet: FleetView
  api: ApiServer
  /** The Prometheus listener (config metricsAddr), when configured. */
  metricsServer: MetricsServer | undefined
}

/**
 * admitSelf: an agent that runs with the operator key it generated in its data directory
 * (no --trust: the embedded default of `npm start`) is its own operator, and signs its own
 * admission, so that a single agent is a member at once.
 */
async function admitSelf(config: AgentConfig, keyId: string, store: Store, log: Logger): Promise<void> {
  if (config.admission === 'open' || config.trust.length > 0) return
  const entry = store.map.get(StoreKey.admission(config.name))
  if (entry?.op === 'put' && admissionValueSchema.safeParse(entry.value).data?.keyId === keyId) return
  let pem: string
  try {
    pem = await readFile(join(config.dataDir, 'operator.key'), 'utf8')
  } catch {
    return // only the .pub is here: the operator approves this host
  }
  const ts = { wall: Math.max(Date.now(), Number((entry?.hlc ?? '0').split('.')[0]) + 1), logical: 0 }
  const r = await store.apply(signEnvelope(StoreKey.admission(config.name), { keyId }, ts, createPrivateKey(pem), undefined, config.clusterId), 'api')
  log.info({ status: r.status }, 'admitted this host with the generated operator key')
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
    if (config.admission === 'open') log.warn('admission: open: every host with the cluster key is a member and votes (labs only)')
    const joined = config.joinToken === undefined ? undefined : await loadJoin(config.joinToken, config.dataDir, clock.wall())
    const apiToken = config.apiTokenFile === undefined ? undefined : (await readFile(config.apiTokenFile, 'utf8')).trim()
    if (apiToken !== undefined && apiToken.length < 16) throw new Error(`apiTokenFile ${config.apiTokenFile}: the token must have at least 16 characters`)
    const keyId = keyIdOfPeerPublicKey(peerKey.publicKey.raw)
    const tls = config.api.startsWith('https://') ? await loadOrCreateApiTls(config.dataDir) : undefined
    if (tls?.created === true) log.warn({ fingerprint: tls.fingerprint, cert: join(config.dataDir, 'api.crt') }, 'generated the API certificate: clients pin it with --fingerprint')

    const started = new Stack()
    try {
      const store = await Store.open({ path: join(config.dataDir, 'store'), trusted, retired: await loadRetired(config), ...(config.clusterId === undefined ? {} : { cluster: { id: config.clusterId, requireBound: config.requireClusterId } }), checkValue: checkStoreValue, clock: hlc, metrics, log: log.child({ component: 'store' }) })
      started.push(() => store.close())
      const network = await Network.create({ privateKey: peerKey, listen: config.listen, psk, mdns: config.mdns, maxConnections: config.maxConnections, timings, logger: log.child({ component: 'network' }) })
      started.push(() => network.stop())
      network.subscribe(Topics.store, (msg) => store.validate(msg))
      // Probe acks carry anti-entropy's fingerprint; the exchange needs membership's records: bound once both exist.
      let sync: AntiEntropy | undefined
      const admission = new Admission({ open: config.admission === 'open', store: store.map, trusted: (a) => store.trusts(a), peerIdOf: peerIdOfKeyId, wall: () => clock.wall() })
      await admitSelf(config, keyId, store, log)
      const membership = new Membership({
        gate: admission,
        ...(joined === undefined ? {} : { join: joined }),
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
        maxConnections: config.maxConnections,
        bootstrap: config.bootstrap,
        state: { fingerprint: () => sync?.fingerprint(), differs: (peer) => sync?.differs(peer) },
        timings,
        metrics,
        log: log.child({ component: 'membership' }),
      })
      const fleet = new FleetView(membership, store, { faulty: config.faultyVoters, committee: config.leaseCommittee, admitted: (k, r) => admission.admitted(k, r) })
      const lease = new Lease({
        transport: network,
        clock,
        fleet,
        votes: new FileVoteStore(config.dataDir),
        keyId,
        selfName: () => membership.self().name,
        ttlMs: config.leaseTtlMs,
        forgetMs: config.forgetMs,
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
          // Merged in batches, yielding between them: a frame of forged records must not hold the event loop (probes, the lease).
          { name: 'nodes', map: membership.records, merge: async (envs) => mergeInBatches(envs, (e) => membership.merge(e, 'sync') === 'accept') },
        ],
        periodMs: config.antiEntropyMs,
        timings,
        metrics,
        log: log.child({ component: 'anti-entropy' }),
      })
      let runtime: ContainerRuntime | undefined
      let streams: OpsTarget | undefined
      if (config.docker !== 'none') {
        // Docker's client is loaded only when the agent runs containers.
        const { DockerRuntime } = await import('./runtime/docker.js')
        const docker = new DockerRuntime(config.docker, log.child({ component: 'runtime' }), { concurrency: config.dockerConcurrency, timings: timings.runtime, podsDir: join(config.dataDir, 'pods'), secretsDir: config.secretsDir })
        runtime = seams.runtime === undefined ? docker : seams.runtime(docker)
        streams = new OpsTarget({ runtime: docker, clock, selfName: () => membership.self().name, trusts: (a) => store.trusts(a), nonces: new NonceBook(), log: log.child({ component: 'ops' }) })
      }
      const ops = new Ops({ transport: network, clock, nodes: () => membership.nodes(), selfName: () => membership.self().name, trusts: (a) => store.trusts(a), target: streams, log: log.child({ component: 'ops' }) })
      await ops.start()
      const reconciler =
        runtime === undefined
          ? undefined
          : new Reconciler({ runtime, clock, store: store.map, ...(secretKey === undefined ? {} : { secretKey }), node: membership, slots: lease.slots, policy: config.policy, timings: timings.reconciler, log: log.child({ component: 'reconciler' }) })
      const files =
        runtime === undefined
          ? undefined
          : new FileRefresher({ runtime, store: store.map, ...(secretKey === undefined ? {} : { secretKey }), self: () => membership.self(), clock, periodMs: timings.files.refreshMs, log: log.child({ component: 'files' }) })
      const parts: Omit<Parts, 'api' | 'metricsServer'> = { metrics, store, network, membership, sync, lease, reconciler, files, ops, admission, fleet }
      const api = new ApiServer(backendOf(parts, clock), {
        address: config.api,
        ...(apiToken === undefined ? {} : { token: apiToken }),
        ...(tls === undefined ? {} : { tls }),
        log: log.child({ component: 'api' }),
      })
      const fleetMetrics = new FleetMetrics({
        daemonSets: () =>
          store.map.live(Prefix.daemonSet).map((e) => {
            const ds = e.value as DaemonSet
            const history = store.map.value(StoreKey.history(refOf(ds))) as History | undefined
            return history === undefined ? { ds } : { ds, history }
          }),
        members: () => membersOf(membership, admission),
        now: () => clock.wall(),
      })
      const metricsServer =
        config.metricsAddr === undefined
          ? undefined
          : new MetricsServer(config.metricsAddr, async () => ({ contentType: metrics.registry.contentType, text: `${await metrics.registry.metrics()}\n${await fleetMetrics.text()}` }), log.child({ component: 'metrics' }))
      const agent = new Agent(config, log, { ...parts, api, metricsServer })
      const self = agent
      self.applyOwn(config.labels, config.taints)
      store.on('store:change', (env) => {
        if (env.key.startsWith(Prefix.admission)) {
          admission.changed()
          membership.admissionChanged()
          // A deleted node frees every update slot it held here at once.
          const deleted = env.op === 'delete' ? admissionValueSchema.safeParse(env.value).data?.keyId : undefined
          if (deleted !== undefined) lease.forgetHolder(deleted)
        }
        if (env.key === StoreKey.overlay(config.name)) self.applyOwn(self.own.labels, self.own.taints)
        // A DaemonSet's revision history decides nothing here: its write (right after every
        // apply) would only cost a pass, a Docker list, while the copies start.
        if (!env.key.startsWith(Prefix.history)) reconciler?.trigger()
        const kind = parseStoreKey(env.key)?.kind
        if (kind === 'configMap' || kind === 'secret') files?.trigger()
      })
      membership.on('node:self', () => reconciler?.trigger())
      membership.on('node:record', (r) => lease.recordArrived(r))
      lease.slots.onGranted(() => reconciler?.trigger())
      membership.start()
      started.push(() => membership.stop())
      await sync.start()
      started.push(() => sync.stop())
      reconciler?.start()
      started.push(() => reconciler?.stop())
      files?.start()
      started.push(() => files?.stop())
      if (metricsServer !== undefined) {
        await metricsServer.listen()
        started.push(() => metricsServer.close())
      }
      await api.listen()
      log.info({ peerId: network.peerId, addresses: network.addresses(), trusted: trusted.length }, 'agent started')
      if (!config.policySet) log.info('no workload policy (config key policy): every trusted key may run privileged containers, host paths and host namespaces here')
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
    await p.metricsServer?.close().catch(() => undefined)
    p.sync.stop()
    await p.network.stop().catch((err: unknown) => this.log.warn({ err }, 'closing libp2p failed'))
    await p.store.close()
    this.log.info('agent stopped')
  }
}

/** listedNodes are the nodes the API lists: pending hosts with why, deleted ones not at all. */
function listedNodes(membership: Membership, admission: Admission): NodeListing[] {
  return membership.nodes().flatMap((n) => {
    const v = admission.verdict(n.keyId, n.record)
    if (v.state === 'deleted') return []
    return v.state === 'pending' ? [{ ...n, pending: v.why }] : [n]
  })
}

/** membersOf are the records of the nodes that count for placement and status: admitted, and not Left. */
function membersOf(membership: Membership, admission: Admission): NodeRecord[] {
  return listedNodes(membership, admission)
    .filter((n) => n.state !== 'Left' && n.pending === undefined)
    .map((n) => n.record)
}

/** backendOf is the agent as its API sees it. */
function backendOf(p: Omit<Parts, 'api' | 'metricsServer'>, clock: Clock): ApiBackend {
  const listed = (): NodeListing[] => listedNodes(p.membership, p.admission)
  const members = (): NodeRecord[] => membersOf(p.membership, p.admission)
  return {
    store: p.store.map,
    nodes: listed,
    voters: () => p.fleet.voters(),
    members,
    slots: () => p.lease.busySlots(),
    trusts: (author) => p.store.trusts(author),
    refuse: () => p.metrics.rejected.inc({ map: 'store', source: 'api' }),
    now: () => clock.wall(),
    operate: (request, stdin, sink, signal) => p.ops.run(request, stdin, sink, signal),
    metrics: async () => ({ contentType: p.metrics.registry.contentType, text: await p.metrics.registry.metrics() }),
    // Verified, synced to disk, then gossiped (one message for envelopes written together).
    ...storeWrites(p.store, p.network, () => p.membership.nodes().filter((n) => n.state !== 'Left').map((n) => n.record.version)),
    health: async () => {
      const memory = process.memoryUsage()
      return {
        status: 'ok',
        version: VERSION,
        ...(p.store.clusterId === undefined ? {} : { clusterId: p.store.clusterId }),
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

/** SYNC_MERGE_BATCH is how many synced records are merged before yielding to the event loop (each is a signature check). */
const SYNC_MERGE_BATCH = 64

/** mergeInBatches merges `envs` one by one, yielding to the event loop every SYNC_MERGE_BATCH; returns how many were accepted. */
async function mergeInBatches(envs: unknown[], merge: (env: unknown) => boolean): Promise<number> {
  let accepted = 0
  for (let i = 0; i < envs.length; i++) {
    if (i > 0 && i % SYNC_MERGE_BATCH === 0) await new Promise((resolve) => setImmediate(resolve))
    if (merge(envs[i])) accepted++
  }
  return accepted
}
