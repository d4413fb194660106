// Real agents for integration tests: separate processes on loopback, each with its own
// data directory, a shared cluster key and operator key. Tests only.

import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { call, type AgentTarget } from '../../cli/client.js'
import { generateClusterKey, generateKeyPair } from '../../core/keys.js'
import { assertBundlesFresh, repoPath } from './fixtures.js'

export interface Health {
  node: string
  peerId: string
  addresses: string[]
  peers: number
  storeDigest: string
  storeEntries: number
  rejected: number
  heapUsedBytes: number
  rssBytes: number
}

export interface NodeItem {
  metadata: { name: string; labels: Record<string, string> }
  spec: { taints: unknown[] }
  status: { state: string; peerId: string; addresses?: string[]; pods?: Record<string, { revision: string; ready: boolean; waiting?: string; lastError?: string }> }
}

/** waitFor polls `check` until it returns a value other than undefined/false; returns it. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr === undefined ? '' : ` (last error: ${(lastErr as Error).message})`}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

export interface AgentSpec {
  name: string
  bootstrap?: string[]
  labels?: Record<string, string>
  extra?: string[]
  clusterKey?: string
  config?: string
  /** Run inside this network namespace (e2e). */
  netns?: string
  /** TCP API (`http://127.0.0.1:PORT`, or `https://…`: the target then pins the agent's certificate) with this bearer token, instead of the unix socket. */
  tcpApi?: { address: string; token: string }
  /** Docker engine for the agent; default none (no containers). */
  docker?: string
  /** Listen address; default loopback with a free port. */
  listen?: string
  /** Extra environment of the agent process (DAEMONMESH_TEST_* select the test entry's seams). */
  env?: Record<string, string>
  /** Run the test entry with its control socket, so that deny() can cut this agent off. */
  control?: boolean
  /** Node admission; default `open` (tests that are not about admission run every agent as a member, as before admission). */
  admission?: 'open' | 'enforced'
  /** Join with this token file (`--join-token`). */
  joinToken?: string
  /** Run another checkout's `bin/daemonmesh.js` (benchmarks compare against an earlier build). */
  bin?: string
  /** Run this executable as `LAUNCHER agent …` instead of Node with a checkout's entry (an unpacked package's /usr/bin/daemonmesh). */
  launcher?: string
  /** Node and V8 flags placed before the entry script (benchmarks run production's, many of which NODE_OPTIONS refuses); not with a launcher. */
  nodeArgs?: string[]
  /**
   * Provisioned by its config file alone (`daemonmesh join` wrote it): only `--config` and the
   * cluster's timings are passed; name, keys, trust, data directory, API, Docker, bootstrap
   * and admission come from the file (its api must be unix://DIR/agent.sock of this agent).
   */
  configOnly?: boolean
}

/** TestAgent is one agent process. */
export class TestAgent {
  readonly name: string
  readonly dir: string
  readonly target: AgentTarget
  proc: ChildProcess | undefined
  private readonly cluster: TestCluster
  private spec: AgentSpec

  constructor(cluster: TestCluster, spec: AgentSpec) {
    this.cluster = cluster
    this.spec = spec
    this.name = spec.name
    this.dir = join(cluster.root, spec.name)
    this.target = spec.tcpApi === undefined ? { address: `unix://${join(this.dir, 'agent.sock')}` } : { address: spec.tcpApi.address, token: spec.tcpApi.token }
  }

  /** start launches the process and waits until its API answers. */
  async start(overrides: Partial<AgentSpec> = {}): Promise<this> {
    this.spec = { ...this.spec, ...overrides }
    await mkdir(this.dir, { recursive: true })
    const s = this.spec
    if (s.tcpApi !== undefined) await writeFile(join(this.dir, 'api.token'), `${s.tcpApi.token}\n`, { mode: 0o600 })
    // The test entry builds the same agent through its seams; production's entry otherwise.
    const hooks = s.control === true || Object.keys(s.env ?? {}).some((k) => k.startsWith('DAEMONMESH_TEST_'))
    const entry = hooks ? [repoPath('dist/test/helpers/agent-entry.js')] : s.launcher !== undefined ? ['agent'] : [s.bin ?? repoPath('bin/daemonmesh.js'), 'agent']
    if (!hooks && s.launcher === undefined && s.bin === undefined) assertBundlesFresh()
    const timings = [
      ...(this.cluster.heartbeat === '' ? [] : ['--heartbeat', this.cluster.heartbeat]),
      ...(this.cluster.suspicionMs === 0 ? [] : ['--suspicion', `${this.cluster.suspicionMs}ms`]),
      ...(this.cluster.antiEntropy === '' ? [] : ['--anti-entropy', this.cluster.antiEntropy]),
      '--log-level', this.cluster.logLevel,
    ]
    const node = s.launcher === undefined || hooks ? s.nodeArgs ?? [] : []
    const args = s.configOnly === true ? [...node, ...entry, '--config', s.config ?? '', ...timings] : [
      ...node,
      ...entry,
      '--name', s.name,
      '--data-dir', this.dir,
      '--listen', s.listen ?? '/ip4/127.0.0.1/tcp/0',
      '--cluster-key', s.clusterKey ?? this.cluster.clusterKeyFile,
      '--trust', this.cluster.operatorPubFile,
      // An earlier build (s.bin) may know no admission (it then behaves as `open`): the flag only when asked for.
      ...(s.bin === undefined || s.admission !== undefined ? ['--admission', s.admission ?? 'open'] : []),
      ...(s.joinToken === undefined ? [] : ['--join-token', s.joinToken]),
      // Empty or zero: the agent's own defaults (benchmarks measure those).
      ...(this.cluster.heartbeat === '' ? [] : ['--heartbeat', this.cluster.heartbeat]),
      ...(this.cluster.suspicionMs === 0 ? [] : ['--suspicion', `${this.cluster.suspicionMs}ms`]),
      ...(this.cluster.antiEntropy === '' ? [] : ['--anti-entropy', this.cluster.antiEntropy]),
      '--docker', s.docker ?? 'none',
      '--log-level', this.cluster.logLevel,
      ...(s.config === undefined ? [] : ['--config', s.config]),
      ...(s.tcpApi === undefined ? [] : ['--api', s.tcpApi.address, '--api-token-file', join(this.dir, 'api.token')]),
      ...(s.bootstrap ?? []).flatMap((b) => ['--bootstrap', b]),
      ...Object.entries(s.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...(s.extra ?? []),
    ]
    const log = createWriteStream(join(this.dir, 'agent.log'), { flags: 'a' })
    // Inside a network namespace when the spec names one (e2e hosts).
    const exe = hooks ? process.execPath : s.launcher ?? process.execPath
    const [cmd, argv] = s.netns === undefined ? [exe, args] : ['nsenter', [`--net=/var/run/netns/${s.netns}`, exe, ...args]]
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(s.env ?? {}) } })
    proc.stdout?.pipe(log)
    proc.stderr?.pipe(log)
    this.proc = proc
    await waitFor(`${this.name} API`, async () => {
      if (proc.exitCode !== null) throw new Error(`${this.name} exited with ${proc.exitCode}: ${await this.logTail()}`)
      // An https API: pin the certificate the agent made (or kept) in its data directory.
      if (this.target.address.startsWith('https://')) this.target.fingerprint = new X509Certificate(await readFile(join(this.dir, 'api.crt'), 'utf8')).fingerprint256
      return this.health()
    }, this.cluster.apiTimeoutMs, 100)
    return this
  }

  async logTail(lines = 20): Promise<string> {
    const text = await readFile(join(this.dir, 'agent.log'), 'utf8').catch(() => '')
    return text.split('\n').slice(-lines).join('\n')
  }

  health(): Promise<Health> {
    return call<Health>(this.target, 'GET', '/v1/health')
  }

  async nodes(): Promise<NodeItem[]> {
    return (await call<{ items: NodeItem[] }>(this.target, 'GET', '/v1/nodes')).items
  }

  async nodeState(name: string): Promise<string | undefined> {
    return (await this.nodes()).find((n) => n.metadata.name === name)?.status.state
  }

  async daemonSets(): Promise<{ metadata: { name: string; namespace: string } }[]> {
    return (await call<{ items: { metadata: { name: string; namespace: string } }[] }>(this.target, 'GET', '/v1/daemonsets')).items
  }

  /** address is a dialable loopback multiaddr without /p2p/ (as an operator would type it). */
  async address(): Promise<string> {
    const h = await this.health()
    const a = h.addresses.find((x) => x.startsWith('/ip4/127.0.0.1/'))
    if (a === undefined) throw new Error(`${this.name} has no loopback address`)
    return a.replace(/\/p2p\/.*$/, '')
  }

  /** deny cuts this agent off from `peers` at its connection gater (the test entry's control socket). */
  async deny(peers: string[]): Promise<void> {
    await call({ address: `unix://${join(this.dir, 'control.sock')}` }, 'POST', '/refuse', { peers })
  }

  /** stop sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    proc.kill(signal)
    return exited
  }
}

/** TestCluster owns a temp root, the shared keys and the agents. */
export class TestCluster {
  readonly root: string
  readonly clusterKeyFile: string
  readonly operatorKeyFile: string
  readonly operatorPubFile: string
  readonly operatorKey: KeyObject
  readonly suspicionMs: number
  /** Agent log level; debug by default, info for large clusters to spare the CPU. */
  logLevel = 'debug'
  /** How long an agent may take to answer its API after its start (benchmarks that start many at once on a loaded machine raise it). */
  apiTimeoutMs = 60_000
  /** Heartbeat; short by default so failure detection tests are quick. */
  heartbeat = '500ms'
  antiEntropy = '1s'
  readonly agents: TestAgent[] = []

  private constructor(root: string, operatorPem: string, suspicionMs: number) {
    this.root = root
    this.clusterKeyFile = join(root, 'cluster.key')
    this.operatorKeyFile = join(root, 'operator.key')
    this.operatorPubFile = join(root, 'operator.key.pub')
    this.operatorKey = createPrivateKey(operatorPem)
    this.suspicionMs = suspicionMs
  }

  static async create(prefix: string, suspicionMs = 3000): Promise<TestCluster> {
    const root = await mkdtemp(join(tmpdir(), `dm-${prefix}-`))
    const pair = generateKeyPair()
    const c = new TestCluster(root, pair.privateKeyPem, suspicionMs)
    await writeFile(c.clusterKeyFile, generateClusterKey(), { mode: 0o600 })
    await writeFile(c.operatorKeyFile, pair.privateKeyPem, { mode: 0o600 })
    await writeFile(c.operatorPubFile, pair.publicKeyPem)
    return c
  }

  agent(spec: AgentSpec): TestAgent {
    const a = new TestAgent(this, spec)
    this.agents.push(a)
    return a
  }

  /** startMany starts agents `prefix-1..n`, the first as bootstrap for the rest. */
  async startMany(prefix: string, n: number, extra: Partial<AgentSpec> = {}): Promise<TestAgent[]> {
    const first = await this.agent({ name: `${prefix}-1`, ...extra }).start()
    const boot = await first.address()
    const rest: TestAgent[] = []
    // A few at a time: 30 Node processes loading libp2p at once starve a 2-core machine.
    for (let i = 2; i <= n; i += 5) {
      const batch = Array.from({ length: Math.min(5, n - i + 1) }, (_, j) => this.agent({ name: `${prefix}-${i + j}`, bootstrap: [boot], ...extra }))
      rest.push(...(await Promise.all(batch.map((a) => a.start()))))
    }
    return [first, ...rest]
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop('SIGKILL').catch(() => undefined)))
  }
}

/** manifest returns a small valid DaemonSet manifest. */
export function manifest(name: string, image = 'busybox:1.36', namespace = 'default'): string {
  return `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: main
        image: ${image}
`
}
