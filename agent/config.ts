// Agent configuration: defaults, the YAML config file, and flags, merged in that order
// and validated once at start. A bad value is refused with the field (or flag) at fault.

import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { z } from 'zod'
import { parse as parseYaml } from 'yaml'
import { checkClusterId } from '../core/envelope.js'
import { formatIssue, type FieldIssue } from '../core/errors.js'
import { isKeyId } from '../core/keys.js'
import { dns1123Subdomain } from '../core/names.js'
import { validateLabels } from '../core/selector.js'
import { parseTaint, validateTaint } from '../core/taints.js'
import type { Taint, TaintEffect } from '../core/types.js'
import { parseDuration } from '../core/duration.js'
import { DEFAULT_COMMITTEE } from '../core/lease.js'
import { isLoopback, splitHostPort } from '../core/address.js'
import { OPEN_POLICY, policyOf, policySchema, type WorkloadPolicy } from '../core/policy.js'
import { LOG_LEVELS, type LogLevel } from './log.js'

/** AgentConfig is the validated configuration of one agent. */
export interface AgentConfig {
  /** Node name (DNS-1123 subdomain). Default: the host name. */
  name: string
  /** Node labels; `kubernetes.io/hostname`, `kubernetes.io/os` and `kubernetes.io/arch` are added. */
  labels: Record<string, string>
  taints: Taint[]
  /** libp2p listen multiaddrs. Default `/ip4/0.0.0.0/tcp/7946`. */
  listen: string[]
  /** Peers to dial at start and whenever the agent has no connection; `/p2p/ID` optional. */
  bootstrap: string[]
  /** Find peers on the local network segment with mDNS. Default off. */
  mdns: boolean
  /** Where the peer key, the store and generated keys live. Default `.daemonmesh`. */
  dataDir: string
  /** Cluster pre-shared key file. Default `DATADIR/cluster.key`, created on first start. */
  clusterKey: string
  /**
   * Fleet secret key file: opens the Secrets of the pods this host runs (core/secret-box.ts).
   * Default `DATADIR/secret.key`, created on first start (then only this host can open what
   * is sealed with it: copy one key to every host that runs Secrets, and to the operator's
   * CLI). `none`: this host holds no secret key and runs no pod that needs a Secret.
   * Distinct from the cluster key, so a leaked cluster key reveals no Secret.
   */
  secretKey: string
  /**
   * Where Secret files of running pods are written: must be a tmpfs (checked before each
   * write), so no Secret reaches a disk. Default `/dev/shm/daemonmesh`; one directory per pod
   * below it, removed with the pod.
   */
  secretsDir: string
  /** Trusted operator public key files (or key ids). Empty: a key is made in DATADIR/operator.key and trusted. */
  trust: string[]
  /**
   * Retired operator public key files (or key ids): keys rotated away but not stolen. What
   * they signed stays (and keeps running) until it is re-signed (`daemonmesh resign --from
   * KEY`); they may sign nothing new. A key removed from both `trust` and `retiredKeys` is
   * revoked: what it signed is dropped (its deletes are kept). Default none.
   */
  retiredKeys: string[]
  /** The cluster id operator writes are bound to (signatures v2; docs/security.md "Cluster id"): envelopes bound to another id are refused. Default none: unbound writes (v1) only, as agents of 0.1.0. */
  clusterId?: string
  /** Refuse store envelopes not bound to clusterId from the API, gossip and sync (the disk's are kept). Default false; needs clusterId. */
  requireClusterId: boolean
  /**
   * API address: `unix:///PATH` (default `unix://DATADIR/agent.sock`), `https://HOST:PORT`
   * (TLS with a self-signed certificate made in DATADIR/api.crt; clients pin its
   * fingerprint) or `http://HOST:PORT` on a loopback address only. TCP needs apiTokenFile.
   */
  api: string
  /** File holding the bearer token the TCP API requires. */
  apiTokenFile?: string
  /**
   * Where Prometheus scrapes `/metrics` over plain HTTP (`HOST:PORT`, `[V6]:PORT`): the agent's
   * own metrics and the fleet's kube-state-metrics series (docs/operations.md). Default: unset,
   * no such listener (the API's /metrics still answers). It has no token: bind an address only
   * the scraper reaches.
   */
  metricsAddr?: string
  /**
   * The failure detector's protocol period (config key and flag keep the name heartbeat):
   * each agent probes one member per period. Default 1s (memberlist's LAN default): lower
   * finds failures sooner at more probes (one a second by default, whatever the fleet's
   * size; at 500ms an idle agent of 20 spent 28-58 % more CPU, docs/membership.md); node records are sent
   * only when they change. See docs/membership.md.
   */
  heartbeatMs: number
  /**
   * The suspicion timeout's floor: a suspected node that does not refute is Unreachable after
   * this long in a fleet of up to 10 hosts once enough members agree; the timeout grows with
   * log10 of the fleet's size (1.5x at 30 hosts, 3x at 1,000) and stretches up to 4x while
   * few members confirm. Default 1s: shorter declares failures sooner, but leaves a busy host
   * less time to refute a wrong suspicion. At least one heartbeat.
   */
  suspicionMs: number
  /** A node Unreachable or Left and not heard from for this long is forgotten. Default 1h. */
  forgetMs: number
  /** How often the store and node records are compared with a random peer, whatever the probes found (acks carry a fingerprint; a differing one starts an exchange at once). Default 30s. */
  antiEntropyMs: number
  /**
   * Lifetime of an update-slot grant. Default 15s. A holder acts only in the first half; a
   * slot whose holder died before acting is free again after it. Longer rides out slow
   * gossip; shorter recovers sooner from a dead claimant.
   */
  leaseTtlMs: number
  /**
   * f, the voters that may lie (grant and acknowledge anything) without the rollout bound
   * breaking: a claim needs ceil((n+f+1)/2) of n voters, so any two quorums share f+1
   * voters. Default 1. Higher tolerates more stolen hosts, at the price of liveness: with
   * n <= f+2 every voter must answer. 0 is a plain majority. Every agent of a fleet must
   * use the same f (it is part of the claim's voter-set hash). 0 to 16.
   */
  faultyVoters: number
  /**
   * How many voters decide each DaemonSet's update slots once the fleet has more (`--lease-committee`):
   * a rolled host then costs 5 (k - 1) lease messages whatever the fleet's size, and each claimant
   * links to k - 1 voters instead of every host. Default 9 (a quorum of 6 at f = 1: three committee
   * members may be down). Every agent of a fleet must use the same value (it is part of the claim's
   * voter-set hash once the fleet is larger). f + 1 to 255.
   */
  leaseCommittee: number
  /** Hard cap on libp2p connections. Default 64. */
  maxConnections: number
  /** Connections the agent keeps by dialling peers it learns from node records. Default 8. */
  targetPeers: number
  logLevel: LogLevel
  /** Docker engine: `unix:///PATH` (default /var/run/docker.sock), or `none` to run no containers. */
  docker: string
  /**
   * Docker calls that make the engine work (list, inspect, pull, create, start, remove) at
   * most this many at once, over all pod workers; waiting out a stop's grace period takes no
   * place. Default 4 (a Raspberry-class host has 4 cores): more starts many daemons sooner on a
   * big host, fewer spares a small host's engine and disk. 1 to 64.
   */
  dockerConcurrency: number
  /**
   * The host's address as pods see it (`status.hostIP`, kubelet's `--node-ip`). Default: unset,
   * and the agent chooses (core/host-ip.ts): a listen address bound to one non-loopback IP,
   * else the default route's interface's IPv4, else any interface's. Set it when the host has
   * several addresses and daemons must use a given one.
   */
  nodeIP?: string
  /**
   * What the DaemonSets of each operator key may do to this host (core/policy.ts): privileged
   * containers, hostPath prefixes, host namespaces, added capabilities, namespaces. Default:
   * no `policy` key, everything allowed (as before policies); with the key, every rule it
   * leaves out is strict. A refused DaemonSet is reported `PolicyDenied: RULE` and nothing of
   * it starts here.
   */
  policy: WorkloadPolicy
  /** Whether the config set a policy (an open policy is logged at start). */
  policySet: boolean
  /**
   * Node admission (core/node-admission.ts). `enforced` (default): a host is a member only
   * once an operator admitted its key (`daemonmesh approve node`) or it joined with a valid
   * join token; until then it is Pending, with no vote and no say. `open`: every host with
   * the cluster key is a member (labs; logged as a warning).
   */
  admission: 'enforced' | 'open'
  /** A join token file (`daemonmesh token create`) this host joins with. */
  joinToken?: string
}

/** defaultConfig returns the embedded defaults (`npm start` runs with these). */
export function defaultConfig(): AgentConfig {
  const dataDir = '.daemonmesh'
  return {
    name: sanitizeHostname(hostname()),
    labels: {},
    taints: [],
    listen: ['/ip4/0.0.0.0/tcp/7946'],
    bootstrap: [],
    mdns: false,
    dataDir,
    clusterKey: '',
    secretKey: '',
    secretsDir: '/dev/shm/daemonmesh',
    trust: [],
    retiredKeys: [],
    requireClusterId: false,
    api: '',
    heartbeatMs: 1000,
    suspicionMs: 1000,
    forgetMs: 3_600_000,
    antiEntropyMs: 30_000,
    leaseTtlMs: 15_000,
    faultyVoters: 1,
    leaseCommittee: DEFAULT_COMMITTEE,
    maxConnections: 64,
    targetPeers: 4,
    logLevel: 'info',
    docker: 'unix:///var/run/docker.sock',
    dockerConcurrency: 4,
    policy: OPEN_POLICY,
    policySet: false,
    admission: 'enforced',
  }
}

function sanitizeHostname(h: string): string {
  const s = h.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
  return s === '' ? 'node' : s
}

const duration = z.union([z.number(), z.string()])
const taintInput = z.union([z.string(), z.object({ key: z.string(), value: z.string().optional(), effect: z.string() }).strict()])

/** fileSchema is the config file's shape; every key is optional. */
const fileSchema = z
  .object({
    name: z.string(),
    labels: z.record(z.string(), z.string()),
    taints: z.array(taintInput),
    listen: z.array(z.string()),
    bootstrap: z.array(z.string()),
    mdns: z.boolean(),
    dataDir: z.string(),
    clusterKey: z.string(),
    secretKey: z.string(),
    secretsDir: z.string(),
    trust: z.array(z.string()),
    retiredKeys: z.array(z.string()).max(64),
    clusterId: z.string().max(253),
    requireClusterId: z.boolean(),
    api: z.string(),
    apiTokenFile: z.string(),
    metricsAddr: z.string(),
    heartbeat: duration,
    suspicion: duration,
    forget: duration,
    antiEntropy: duration,
    leaseTtl: duration,
    faultyVoters: z.number().int(),
    leaseCommittee: z.number().int(),
    maxConnections: z.number().int(),
    targetPeers: z.number().int(),
    logLevel: z.string(),
    docker: z.string(),
    dockerConcurrency: z.number().int(),
    nodeIP: z.string(),
    policy: policySchema,
    admission: z.enum(['enforced', 'open']),
    joinToken: z.string(),
  })
  .partial()
  .strict()

export type ConfigInput = z.infer<typeof fileSchema>

/** ConfigError is thrown when the configuration is invalid; it lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly issues: FieldIssue[]
  constructor(source: string, issues: FieldIssue[]) {
    super(`${source}: ${issues.map(formatIssue).join('; ')}`)
    this.issues = issues
  }
}

/** readConfigFile parses and checks the shape of a YAML config file. */
export async function readConfigFile(path: string): Promise<ConfigInput> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`--config ${path}`, [{ path: '', message: (err as Error).message }])
  }
  let data: unknown
  try {
    data = parseYaml(text, { maxAliasCount: 100 }) ?? {}
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `YAML: ${(err as Error).message.split('\n')[0] ?? ''}` }])
  }
  const res = fileSchema.safeParse(data)
  if (!res.success) {
    throw new ConfigError(path, res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message })))
  }
  return res.data
}

function parseTaints(list: ConfigInput['taints'], path: string, issues: FieldIssue[]): Taint[] {
  const out: Taint[] = []
  ;(list ?? []).forEach((t, i) => {
    if (typeof t === 'string') {
      const r = parseTaint(t)
      if (r.taint === undefined) issues.push(...r.issues.map((x) => ({ path: `${path}[${i}]`, message: x.message })))
      else out.push(r.taint)
    } else {
      const taint: Taint = { key: t.key, effect: t.effect as TaintEffect, ...(t.value === undefined ? {} : { value: t.value }) }
      const bad = validateTaint(taint, `${path}[${i}]`)
      if (bad.length > 0) issues.push(...bad)
      else out.push(taint)
    }
  })
  return out
}

function durationField(v: unknown, path: string, fallback: number, issues: FieldIssue[]): number {
  if (v === undefined) return fallback
  const ms = parseDuration(v)
  if (ms === undefined || ms <= 0) issues.push({ path, message: `Invalid value: ${JSON.stringify(v)}: a positive duration such as 500ms, 1s, 5m or 1h` })
  return ms ?? fallback
}

/**
 * resolveConfig merges defaults, the file and flags (flags win; list flags replace the
 * file's lists; label flags add to the file's labels) and validates the result.
 * Throws ConfigError listing every problem.
 */
export function resolveConfig(file: ConfigInput, flags: ConfigInput, source = 'config'): AgentConfig {
  const d = defaultConfig()
  const issues: FieldIssue[] = []
  const pick = <K extends keyof ConfigInput>(k: K): ConfigInput[K] => (flags[k] !== undefined ? flags[k] : file[k])
  const dataDir = resolve(pick('dataDir') ?? d.dataDir)
  const name = pick('name') ?? d.name
  for (const p of dns1123Subdomain(name)) issues.push({ path: 'name', message: `Invalid value: "${name}": ${p}` })
  const labels = { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch, ...(file.labels ?? {}), ...(flags.labels ?? {}) }
  issues.push(...validateLabels(labels, 'labels'))
  const taints = parseTaints(pick('taints'), 'taints', issues)
  const logLevel = pick('logLevel') ?? d.logLevel
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) issues.push({ path: 'logLevel', message: `Unsupported value: "${logLevel}": supported values: ${LOG_LEVELS.join(', ')}` })
  const api = pick('api') ?? `unix://${resolve(dataDir, 'agent.sock')}`
  if (!/^unix:\/\/.+/.test(api) && !/^https?:\/\/[^/]+:[0-9]+\/?$/.test(api)) issues.push({ path: 'api', message: `Invalid value: "${api}": use unix:///PATH, https://HOST:PORT or http://127.0.0.1:PORT` })
  else if (api.startsWith('http://') && !isLoopback(URL.parse(api)?.hostname ?? '')) issues.push({ path: 'api', message: `Invalid value: "${api}": plaintext HTTP only on a loopback address (the token and every write would cross the network in clear); use https://HOST:PORT` })
  const apiTokenFile = pick('apiTokenFile')
  if (/^https?:\/\//.test(api) && apiTokenFile === undefined) issues.push({ path: 'apiTokenFile', message: 'required when the API listens on TCP (the token guards operator writes and reads)' })
  const metricsAddr = pick('metricsAddr')
  if (metricsAddr !== undefined) {
    const { host, port } = splitHostPort(metricsAddr)
    if (host === '' || !(port >= 1 && port <= 65_535)) issues.push({ path: 'metricsAddr', message: `Invalid value: "${metricsAddr}": use HOST:PORT, such as 0.0.0.0:9464 or [::1]:9464` })
  }
  const cfg: AgentConfig = {
    name,
    labels,
    taints,
    listen: pick('listen') ?? d.listen,
    bootstrap: pick('bootstrap') ?? d.bootstrap,
    mdns: pick('mdns') ?? d.mdns,
    dataDir,
    clusterKey: resolve(pick('clusterKey') ?? `${dataDir}/cluster.key`),
    secretKey: pick('secretKey') === 'none' ? 'none' : resolve(pick('secretKey') ?? `${dataDir}/secret.key`),
    secretsDir: resolve(pick('secretsDir') ?? d.secretsDir),
    trust: (pick('trust') ?? []).map((t) => (isKeyId(t) ? t : resolve(t))),
    retiredKeys: (pick('retiredKeys') ?? []).map((t) => (isKeyId(t) ? t : resolve(t))),
    requireClusterId: pick('requireClusterId') ?? d.requireClusterId,
    api,
    ...(apiTokenFile === undefined ? {} : { apiTokenFile: resolve(apiTokenFile) }),
    ...(metricsAddr === undefined ? {} : { metricsAddr }),
    heartbeatMs: durationField(pick('heartbeat'), 'heartbeat', d.heartbeatMs, issues),
    suspicionMs: durationField(pick('suspicion'), 'suspicion', d.suspicionMs, issues),
    forgetMs: durationField(pick('forget'), 'forget', d.forgetMs, issues),
    antiEntropyMs: durationField(pick('antiEntropy'), 'antiEntropy', d.antiEntropyMs, issues),
    leaseTtlMs: durationField(pick('leaseTtl'), 'leaseTtl', d.leaseTtlMs, issues),
    faultyVoters: pick('faultyVoters') ?? d.faultyVoters,
    leaseCommittee: pick('leaseCommittee') ?? d.leaseCommittee,
    maxConnections: pick('maxConnections') ?? d.maxConnections,
    targetPeers: pick('targetPeers') ?? d.targetPeers,
    logLevel: logLevel as LogLevel,
    docker: pick('docker') ?? d.docker,
    dockerConcurrency: pick('dockerConcurrency') ?? d.dockerConcurrency,
    policy: file.policy === undefined ? d.policy : policyOf(file.policy),
    policySet: file.policy !== undefined,
    admission: pick('admission') ?? d.admission,
  }
  const clusterId = pick('clusterId')
  if (clusterId !== undefined) cfg.clusterId = clusterId
  const badId = clusterId === undefined ? (cfg.requireClusterId ? 'Required value: requireClusterId needs clusterId' : undefined) : checkClusterId(clusterId)
  if (badId !== undefined) issues.push({ path: 'clusterId', message: badId })
  const joinToken = pick('joinToken')
  if (joinToken !== undefined) cfg.joinToken = resolve(joinToken)
  const nodeIP = pick('nodeIP')
  if (nodeIP !== undefined) {
    if (isIP(nodeIP) === 0) issues.push({ path: 'nodeIP', message: `Invalid value: "${nodeIP}": an IPv4 or IPv6 address` })
    cfg.nodeIP = nodeIP
  }
  if (cfg.docker !== 'none' && !/^unix:\/\/\/.+/.test(cfg.docker)) issues.push({ path: 'docker', message: `Invalid value: "${cfg.docker}": use unix:///PATH or none` })
  if (cfg.dockerConcurrency < 1 || cfg.dockerConcurrency > 64) issues.push({ path: 'dockerConcurrency', message: `Invalid value: ${cfg.dockerConcurrency}: between 1 and 64` })
  if (cfg.heartbeatMs < 50) issues.push({ path: 'heartbeat', message: `Invalid value: ${cfg.heartbeatMs}ms: at least 50ms (a probe and its indirect probes fit in one period)` })
  // A suspected host needs a round trip of gossip to refute (far less than a period), and the
  // deadline's last ping, which carries the suspicion, must fit before it: a period.
  if (cfg.suspicionMs < cfg.heartbeatMs) issues.push({ path: 'suspicion', message: `Invalid value: ${cfg.suspicionMs}ms: must be at least one heartbeat (${cfg.heartbeatMs}ms)` })
  if (cfg.leaseTtlMs < 2000) issues.push({ path: 'leaseTtl', message: `Invalid value: ${cfg.leaseTtlMs}ms: at least 2s (a claim needs two gossip round trips)` })
  if (cfg.faultyVoters < 0 || cfg.faultyVoters > 16) issues.push({ path: 'faultyVoters', message: `Invalid value: ${cfg.faultyVoters}: between 0 and 16` })
  if (cfg.leaseCommittee <= cfg.faultyVoters || cfg.leaseCommittee > 255) issues.push({ path: 'leaseCommittee', message: `Invalid value: ${cfg.leaseCommittee}: between faultyVoters + 1 (${cfg.faultyVoters + 1}) and 255` })
  if (cfg.forgetMs <= cfg.suspicionMs) issues.push({ path: 'forget', message: 'Invalid value: must be longer than suspicion' })
  if (cfg.maxConnections < 1) issues.push({ path: 'maxConnections', message: 'Invalid value: must be at least 1' })
  if (cfg.targetPeers < 1 || cfg.targetPeers > cfg.maxConnections) issues.push({ path: 'targetPeers', message: 'Invalid value: must be between 1 and maxConnections' })
  if (cfg.listen.length === 0) issues.push({ path: 'listen', message: 'Required value: at least one address' })
  for (const [i, a] of [...cfg.listen, ...cfg.bootstrap].entries()) {
    if (!a.startsWith('/')) issues.push({ path: i < cfg.listen.length ? `listen[${i}]` : `bootstrap[${i - cfg.listen.length}]`, message: `Invalid value: "${a}": a multiaddr such as /ip4/10.0.0.1/tcp/7946` })
  }
  if (issues.length > 0) throw new ConfigError(source, issues)
  return cfg
}
