// Docker helpers for tests: a local busybox image built FROM scratch (no registry is
// reachable), container listing by label, cleanup. Tests only.

import { execFile, spawn } from 'node:child_process'
import { mkdtemp, mkdir, copyFile, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { prerequisite } from './prereq.js'

const run = promisify(execFile)

export const TEST_IMAGE = 'daemonmesh-test/busybox:1'
/** Same busybox, with an entrypoint that idles whatever args it gets: stands in for the seeds' images. */
export const IDLE_IMAGE = 'daemonmesh-test/idle:1'
const APPLETS = ['sh', 'sleep', 'true', 'false', 'echo', 'cat', 'ls', 'httpd', 'nc', 'wget', 'hostname', 'env', 'ps', 'kill']

/** docker runs the docker CLI against `host` (a unix socket address), returning stdout. */
export async function docker(host: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['-H', host, ...args], { maxBuffer: 16 * 1024 * 1024 })
  return stdout
}

/** requireDocker fails under CI=true when the engine does not answer; elsewhere returns why to skip. */
export async function requireDocker(host = 'unix:///var/run/docker.sock'): Promise<string | undefined> {
  return prerequisite(`docker engine at ${host} does not answer`, () => docker(host, 'version', '--format', '{{.Server.Version}}'))
}

/** buildTestImage imports a busybox-only image FROM scratch (idempotent) and tags it under `tags` too. */
export async function buildTestImage(host: string, tags: string[] = []): Promise<void> {
  const have = await docker(host, 'images', '-q', TEST_IMAGE)
  if (have.trim() === '') {
    const root = await mkdtemp(join(tmpdir(), 'dm-img-'))
    await mkdir(join(root, 'bin'))
    await mkdir(join(root, 'tmp'))
    await copyFile('/bin/busybox', join(root, 'bin/busybox'))
    for (const a of APPLETS) await symlink('busybox', join(root, 'bin', a))
    await new Promise<void>((resolve, reject) => {
      const tar = spawn('tar', ['-C', root, '-c', '.'])
      const imp = spawn('docker', ['-H', host, 'import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', '-', TEST_IMAGE])
      tar.stdout.pipe(imp.stdin)
      let err = ''
      imp.stderr.on('data', (d: Buffer) => (err += d.toString()))
      imp.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker import failed: ${err}`))))
    })
  }
  if ((await docker(host, 'images', '-q', IDLE_IMAGE)).trim() === '') {
    // The idle image is the base one plus a script, committed from a container.
    const id = (await docker(host, 'create', '--entrypoint', '/bin/sh', TEST_IMAGE, '-c', 'printf "#!/bin/sh\\nexec sleep 2147483647\\n" > /bin/idle && chmod +x /bin/idle')).trim()
    await docker(host, 'start', '-a', id)
    await docker(host, 'commit', '--change', 'ENTRYPOINT ["/bin/idle"]', '--change', 'CMD []', id, IDLE_IMAGE)
    await docker(host, 'rm', id)
  }
  for (const t of tags) await docker(host, 'tag', IDLE_IMAGE, t)
}

export interface ContainerRow {
  id: string
  name: string
  node: string
  daemonSet: string
  revision: string
  state: string
}

/** managed lists the managed containers of `nodes` (all when omitted). */
export async function managed(host: string, nodes?: string[]): Promise<ContainerRow[]> {
  const out = await docker(host, 'ps', '-a', '--no-trunc', '--filter', 'label=daemonmesh.io/daemonset', '--format', '{{json .}}')
  const rows = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { ID: string; Names: string; Labels: string; State: string })
    .map((r) => {
      const labels = Object.fromEntries(r.Labels.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
      return { id: r.ID, name: r.Names, node: labels['daemonmesh.io/node'] ?? '', daemonSet: labels['daemonmesh.io/daemonset'] ?? '', revision: labels['daemonmesh.io/revision'] ?? '', state: r.State }
    })
  return nodes === undefined ? rows : rows.filter((r) => nodes.includes(r.node))
}

/** removeManaged force-removes the managed containers of `nodes`. */
export async function removeManaged(host: string, nodes: string[]): Promise<void> {
  const rows = await managed(host, nodes)
  if (rows.length > 0) await docker(host, 'rm', '-f', ...rows.map((r) => r.id)).catch(() => undefined)
}

/**
 * DockerFloor is what Docker alone takes on this machine now for n containers side by side,
 * ms: `docker run -d` of an idle container, `docker rm -f`, and `docker stop -t GRACE` +
 * `docker rm` (what honouring a grace period costs). Containers are named PREFIX-i.
 */
export class DockerFloor {
  constructor(private readonly host: string, private readonly prefix: string, private readonly n: number, private readonly grace: number) {}

  private name(i: number): string {
    return `${this.prefix}-${i}`
  }

  private async parallel(f: (name: string) => Promise<unknown>): Promise<number> {
    const t0 = Date.now()
    await Promise.all(Array.from({ length: this.n }, (_, i) => f(this.name(i))))
    return Date.now() - t0
  }

  run(): Promise<number> {
    return this.parallel((name) => docker(this.host, 'run', '-d', '--name', name, '--stop-timeout', String(this.grace), TEST_IMAGE, 'sleep', '3600'))
  }

  rmForce(): Promise<number> {
    return this.parallel((name) => docker(this.host, 'rm', '-f', name))
  }

  stopRm(): Promise<number> {
    return this.parallel(async (name) => {
      await docker(this.host, 'stop', '-t', String(this.grace), name)
      await docker(this.host, 'rm', name)
    })
  }

  /** clean removes whatever of them is left. */
  async clean(): Promise<void> {
    await docker(this.host, 'rm', '-f', ...Array.from({ length: this.n }, (_, i) => this.name(i))).catch(() => undefined)
  }
}
