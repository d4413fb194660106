// e2e hosts: a network namespace each (on one bridge), with its own dockerd and agent.
// `Fleet.destroy` tears everything down, also after a failure. Tests only.

import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { stringify } from 'yaml'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { assertBundlesFresh, repoPath } from './fixtures.js'
import { TestCluster, waitFor, type TestAgent } from './cluster.js'
import { buildTestImage, docker } from './docker.js'
import { Fabric, type Host } from './netns.js'

const run = promisify(execFile)

export interface FleetHost {
  host: Host
  dir: string
  docker: string
  dockerd: ChildProcess
  agent: TestAgent
  config: string
}

/** startDockerd runs a dockerd of its own inside the host's namespace, state in DIR, API at SOCK. */
export async function startDockerd(host: Host, dir: string, sock: string): Promise<ChildProcess> {
  const dockerd = spawn('nsenter', [`--net=/var/run/netns/${host.ns}`, 'dockerd', '--host', sock, '--data-root', `${dir}/data`, '--exec-root', `${dir}/x`, '--pidfile', `${dir}/d.pid`, '--bridge', 'none', '--iptables=false', '--ip6tables=false', '--log-level', 'error'], { stdio: 'ignore' })
  await waitFor(`dockerd of ${host.name}`, async () => {
    if (dockerd.exitCode !== null) throw new Error(`dockerd of ${host.name} exited with ${dockerd.exitCode}`)
    // Bounded: a dockerd that accepts the connection and never answers would hang this check, and the wait with it.
    await run('docker', ['-H', sock, 'version'], { timeout: 5000 })
    return true
  }, 60_000, 250).catch((err: unknown) => {
    dockerd.kill('SIGKILL')
    throw err
  })
  return dockerd
}

/** cli runs the real daemonmesh binary (a separate process) and returns its output. */
export async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  assertBundlesFresh()
  try {
    const { stdout, stderr } = await run(process.execPath, [repoPath('bin/daemonmesh.js'), ...args])
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

export class Fleet {
  readonly fabric: Fabric
  cluster!: TestCluster
  readonly hosts: FleetHost[] = []
  private root = ''

  constructor(subnet: number) {
    this.fabric = new Fabric(subnet)
  }

  async up(): Promise<void> {
    this.cluster = await TestCluster.create('e2e', 4000)
    this.root = await mkdtemp('/tmp/dme')
    await this.fabric.up()
  }

  /** addHost makes a namespace, starts its dockerd (with the test images) and its agent. */
  async addHost(name: string, opts: { labels?: Record<string, string>; taints?: string[]; imageTags?: string[]; extra?: string[]; env?: Record<string, string> } = {}): Promise<FleetHost> {
    const host = await this.fabric.addHost(name)
    const dir = join(this.root, String(this.hosts.length))
    await mkdir(dir, { recursive: true })
    const sock = `unix://${dir}/d.sock`
    const dockerd = await startDockerd(host, dir, sock)
    await buildTestImage(sock, opts.imageTags ?? [])
    const boot = this.hosts[0] === undefined ? [] : [`/ip4/${this.hosts[0].host.address}/tcp/7946`]
    // Labels and taints live in a config file, so a test can change them and send SIGHUP.
    const config = join(dir, 'agent.yaml')
    await writeFile(config, stringify({ labels: opts.labels ?? {}, taints: opts.taints ?? [] }))
    const agent = await this.cluster.agent({ name, netns: host.ns, listen: '/ip4/0.0.0.0/tcp/7946', docker: sock, bootstrap: boot, config, ...(opts.extra === undefined ? {} : { extra: opts.extra }), ...(opts.env === undefined ? {} : { env: opts.env }) }).start()
    const fh = { host, dir, docker: sock, dockerd, agent, config }
    this.hosts.push(fh)
    return fh
  }

  /** relabel rewrites a host's labels and taints and makes its agent reload them (SIGHUP). */
  async relabel(h: FleetHost, labels: Record<string, string>, taints: string[] = []): Promise<void> {
    await writeFile(h.config, stringify({ labels, taints }))
    h.agent.proc?.kill('SIGHUP')
  }

  /** restartDockerd stops a host's dockerd (its containers stop with it) and starts it again. */
  async restartDockerd(h: FleetHost): Promise<void> {
    const exited = new Promise((r) => h.dockerd.once('exit', r))
    h.dockerd.kill('SIGTERM')
    await exited
    h.dockerd = await startDockerd(h.host, h.dir, h.docker)
  }

  /** destroy stops agents, containers and dockerds, then removes namespaces and the bridge. */
  async destroy(): Promise<void> {
    await this.cluster?.stopAll()
    for (const h of this.hosts) {
      const ids = (await docker(h.docker, 'ps', '-aq').catch(() => '')).split('\n').filter((x) => x !== '')
      if (ids.length > 0) await docker(h.docker, 'rm', '-f', ...ids).catch(() => undefined)
      const exited = new Promise((r) => h.dockerd.once('exit', r))
      h.dockerd.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))])
    }
    await this.fabric.destroy()
    if (this.root !== '') await rm(this.root, { recursive: true, force: true }).catch(() => undefined)
  }
}
