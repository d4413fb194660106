// The agent: wires clock, store, network, membership, anti-entropy and API together.
// Start order: store first (an agent restarted from its data dir has its DaemonSets before
// it talks to anyone), then the network, membership, anti-entropy, and the API last.
// Stop order is the reverse, after announcing the leave.

import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { MergeResult } from '../core/crdt.js'
import { formatIssue } from '../core/errors.js'
import { historySchema } from '../core/history.js'
import { generateKeyPair, parsePublicKey } from '../core/keys.js'
import { parseDaemonSet } from '../core/manifest.js'
import type { NodeRecord } from '../core/node-record.js'
import { applyOverlay, nodeOverlaySchema, overlayKey, type NodeOverlay } from '../core/overlay.js'
import type { Taint } from '../core/types.js'
import { VERSION } from '../core/version.js'
import { ApiServer } from './api/server.js'
import { AgentClock } from './clock.js'
import type { AgentConfig } from './config.js'
import { Membership } from './membership/membership.js'
import { Metrics } from './metrics.js'
import { Topics } from './network/constants.js'
import { keyIdOfPeerPublicKey, loadClusterKey, loadOrCreatePeerKey, nodeSigningKey } from './network/keys.js'
import { Network } from './network/network.js'
import { Store } from './store/store.js'
import { AntiEntropy } from './store/sync.js'
import { Lease } from './lease/lease.js'
import { Reconciler } from './reconciler/reconciler.js'
import { DockerRuntime } from './runtime/docker.js'

/** A request to delete one node's copy (OnDelete updates): the copy reported with that revision and start time. */
const podDeleteSchema = z.object({ revision: z.string().max(64), since: z.number().int().min(0) }).strict()

const deleteDetailsSchema = z.object({ cascade: z.enum(['background', 'orphan']) }).strict()

/** checkStoreValue says why an envelope may not be stored under `key` (undefined when it may). */
export function checkStoreValue(key: string, op: 'put' | 'delete', value: unknown): string | undefined {
  const node = /^nodes\/([a-z0-9.-]+)$/.exec(key)
  if (node !== null) {
    if (op === 'delete') return value === undefined ? undefined : 'a node overlay delete carries nothing'
    const r = nodeOverlaySchema.safeParse(value)
    return r.success ? undefined : `invalid node overlay: ${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''}`
  }
  if (/^pods\/[a-z0-9-]+\/[a-z0-9.-]+\/[a-z0-9.-]+$/.test(key)) {
    if (op === 'delete') return value === undefined ? undefined : 'a pod request delete carries nothing'
    return podDeleteSchema.safeParse(value).success ? undefined : 'a pod delete request is {"revision": HASH, "since": MS}'
  }
  if (/^history\/[a-z0-9-]+\/[a-z0-9.-]+$/.test(key)) {
    if (op === 'delete') return value === undefined ? undefined : 'a history delete carries nothing'
    const r = historySchema.safeParse(value)
    return r.success ? undefined : `invalid revision history: ${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''}`
  }
  const m = /^ds\/([^/]+)\/([^/]+)$/.exec(key)
  if (m === null) return `unknown key ${key}`
  if (op === 'delete') return value === undefined || deleteDetailsSchema.safeParse(value).success ? undefined : 'a delete may only carry {"cascade": "background"|"orphan"}'
  const { daemonSet, errors } = parseDaemonSet(value)
  if (daemonSet === undefined) return `invalid DaemonSet: ${errors.map(formatIssue).join('; ')}`
  if (daemonSet.metadata.namespace !== m[1] || daemonSet.metadata.name !== m[2]) return `DaemonSet ${daemonSet.metadata.namespace}/${daemonSet.metadata.name} stored under ${key}`
  return undefined
}

async function loadTrust(config: AgentConfig, log: Logger): Promise<string[]> {
  if (config.trust.length > 0) {
    return Promise.all(
      config.trust.map(async (t) => {
        if (/^[A-Za-z0-9_-]{43}$/.test(t)) return parsePublicKey(t)
        try {
          return parsePublicKey(await readFile(t, 'utf8'))
        } catch (err) {
          throw new Error(`--trust ${t}: ${(err as Error).message}`)
        }
      }),
    )
  }
  // No operator key configured: make one beside the data so a newcomer can write at once.
  const priv = join(config.dataDir, 'operator.key')
  try {
    return [parsePublicKey(await readFile(`${priv}.pub`, 'utf8'))]
  } catch {
    const pair = generateKeyPair()
    await writeFile(priv, pair.privateKeyPem, { mode: 0o600 })
    await writeFile(`${priv}.pub`, pair.publicKeyPem, { mode: 0o644 })
    log.warn({ key: priv }, 'no trusted operator key configured (--trust): generated one; sign writes with --key ' + priv)
    return [pair.id]
  }
}

/** The parts an agent is made of, built by Agent.start. */
interface Parts {
  metrics: Metrics
  clock: AgentClock
  store: Store
  network: Network
  membership: Membership
  sync: AntiEntropy
  lease: Lease
  reconciler: Reconciler | undefined
  apiToken: string | undefined
}

export class Agent {
  readonly config: AgentConfig
  readonly log: Logger
  readonly metrics: Metrics
  readonly clock: AgentClock
  readonly store: Store
  readonly network: Network
  readonly membership: Membership
  readonly lease: Lease
  private readonly sync: AntiEntropy
  private readonly reconciler: Reconciler | undefined
  private readonly api: ApiServer

  private constructor(config: AgentConfig, log: Logger, parts: Parts) {
    this.config = config
    this.log = log
    this.metrics = parts.metrics
    this.clock = parts.clock
    this.store = parts.store
    this.network = parts.network
    this.membership = parts.membership
    this.sync = parts.sync
    this.lease = parts.lease
    this.reconciler = parts.reconciler
    this.api = new ApiServer(this, { address: config.api, ...(parts.apiToken === undefined ? {} : { token: parts.apiToken }), testHooks: config.testHooks, log: log.child({ component: 'api' }) })
  }

  /** start brings the agent up; on failure it stops whatever had started and rethrows. */
  static async start(config: AgentConfig, log: Logger): Promise<Agent> {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    const metrics = new Metrics()
    const clock = new AgentClock()
    const { key: peerKey, created } = await loadOrCreatePeerKey(join(config.dataDir, 'peer.key'))
    if (created) log.info('generated a new peer key')
    const { psk, created: pskCreated } = await loadClusterKey(config.clusterKey, config.clusterKey === join(config.dataDir, 'cluster.key'))
    if (pskCreated) log.warn({ file: config.clusterKey }, 'generated a cluster key: copy it to every host that should join this cluster')
    const trusted = await loadTrust(config, log)
    const apiToken = config.apiTokenFile === undefined ? undefined : (await readFile(config.apiTokenFile, 'utf8')).trim()
    if (apiToken !== undefined && apiToken.length < 16) throw new Error(`apiTokenFile ${config.apiTokenFile}: the token must have at least 16 characters`)

    const store = await Store.open({ path: join(config.dataDir, 'store'), trusted, checkValue: checkStoreValue, clock, metrics, log: log.child({ component: 'store' }) })
    let network: Network | undefined
    try {
      let membership: Membership | undefined
      let lease: Lease | undefined
      network = await Network.create({
        privateKey: peerKey,
        listen: config.listen,
        psk,
        mdns: config.mdns,
        maxConnections: config.maxConnections,
        logger: log.child({ component: 'network' }),
        validate: (msg) => (msg.topic === Topics.store ? store.validate(msg) : msg.topic === Topics.lease ? (lease?.validate(msg) ?? 'ignore') : (membership?.validate(msg) ?? 'ignore')),
      })
      const m = new Membership({
        network,
        clock,
        signingKey: nodeSigningKey(peerKey),
        keyId: keyIdOfPeerPublicKey(peerKey.publicKey.raw),
        self: { name: config.name, labels: config.labels, taints: config.taints, version: VERSION },
        heartbeatMs: config.heartbeatMs,
        suspicionMs: config.suspicionMs,
        forgetMs: config.forgetMs,
        targetPeers: config.targetPeers,
        bootstrap: config.bootstrap,
        metrics,
        log: log.child({ component: 'membership' }),
      })
      membership = m
      const sync = new AntiEntropy({
        network,
        maps: [
          { name: 'store', map: store.map, merge: (envs) => store.mergeSynced(envs) },
          { name: 'nodes', map: m.records, merge: async (envs) => envs.filter((e) => m.merge(e, 'sync') === 'accept').length },
        ],
        periodMs: config.antiEntropyMs,
        metrics,
        log: log.child({ component: 'anti-entropy' }),
      })
      const l = new Lease({ network, membership: m, store, keyId: keyIdOfPeerPublicKey(peerKey.publicKey.raw), dataDir: config.dataDir, ttlMs: config.leaseTtlMs, metrics, log: log.child({ component: 'lease' }) })
      await l.start()
      lease = l
      const reconciler =
        config.docker === 'none'
          ? undefined
          : new Reconciler({ runtime: new DockerRuntime(config.docker, log.child({ component: 'runtime' })), store, membership: m, lease: l, resyncMs: 10_000, sweepGraceMs: 30_000, log: log.child({ component: 'reconciler' }), ...(config.testHooks ? { testActDelayMs: Number(process.env.DAEMONMESH_TEST_ACT_DELAY_MS ?? 0) || 0 } : {}) })
      const agent = new Agent(config, log, { metrics, clock, store, network, membership: m, sync, lease: l, reconciler, apiToken })
      agent.applyOwn(config.labels, config.taints)
      store.addEventListener('change', (e) => {
        if ((e as CustomEvent<{ key: string }>).detail.key === overlayKey(config.name)) agent.applyOwn(agent.ownLabels, agent.ownTaints)
      })
      m.start()
      await sync.start()
      reconciler?.start()
      await agent.api.listen()
      log.info({ peerId: network.peerId, addresses: network.addresses(), trusted: trusted.length }, 'agent started')
      return agent
    } catch (err) {
      await network?.stop().catch(() => undefined)
      await store.close().catch(() => undefined)
      throw err
    }
  }

  /** The labels and taints of this node's configuration, before the operator's overlay. */
  ownLabels: Record<string, string> = {}
  ownTaints: Taint[] = []

  /**
   * applyOwn sets this node's configured labels and taints (start, SIGHUP) and publishes
   * them with the operator's overlay (`label node`, `taint node`) applied on top.
   */
  applyOwn(labels: Record<string, string>, taints: Taint[]): void {
    this.ownLabels = { ...labels }
    this.ownTaints = taints.map((t) => ({ ...t }))
    const overlay = this.store.map.value(overlayKey(this.config.name)) as NodeOverlay | undefined
    this.membership.update(applyOverlay({ labels: this.ownLabels, taints: this.ownTaints }, overlay))
  }

  /** members are the nodes that count for placement: Alive and Unreachable (not Left). */
  members(): NodeRecord[] {
    return this.membership.nodes().filter((n) => n.state !== 'Left').map((n) => n.record)
  }

  /** write applies a signed envelope from the API: verified, synced to disk, then gossiped. */
  async write(input: unknown): Promise<MergeResult> {
    const r = await this.store.apply(input, 'api')
    if (r.status === 'applied') await this.network.publish(Topics.store, new TextEncoder().encode(JSON.stringify(input)))
    return r
  }

  /** stop announces the leave, closes the API, stops anti-entropy, closes libp2p and the store. */
  async stop(): Promise<void> {
    this.log.info('agent stopping')
    // Containers keep running while the agent is down (Docker's restart policy).
    this.reconciler?.stop()
    this.lease.stop()
    await this.membership.leave().catch((err: unknown) => this.log.warn({ err }, 'leave announcement failed'))
    await this.api.close().catch(() => undefined)
    this.sync.stop()
    await this.network.stop().catch((err: unknown) => this.log.warn({ err }, 'closing libp2p failed'))
    await this.store.close()
    this.log.info('agent stopped')
  }
}
