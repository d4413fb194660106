// `npm run package` (scripts/package/build.sh): both Debian packages carry the right files and
// the runtime and LevelDB binding of their architecture (arm64: contents only). The amd64
// package is installed with `dpkg --root` (maintainer scripts run chrootless with DPKG_ROOT:
// they touch nothing outside that root) into the root of a namespace host with its own
// dockerd; `daemonmesh join` from it provisions the host, and its agent joins a fleet of
// agents run from the checkout in other namespaces and runs a daemon. Installing the package
// again over the running agent (an upgrade) keeps the config, and the daemon's container stays
// up across the agent's restart. The installed unit passes `systemd-analyze verify`.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { lstat, mkdir, mkdtemp, open, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { IDLE_IMAGE, buildTestImage, docker, managed } from '../helpers/docker.js'
import { repoPath } from '../helpers/fixtures.js'
import { cli, startDockerd } from '../helpers/hosts.js'
import { Fabric, requireHostTools, type Host } from '../helpers/netns.js'
import { prerequisite } from '../helpers/prereq.js'

const run = promisify(execFile)
const pkg = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { version: string; dependencies: { node: string } }

const skip =
  (await prerequisite('dpkg-deb is needed (Debian package dpkg)', () => run('dpkg-deb', ['--version']))) ??
  (await prerequisite('systemd-analyze is needed (Debian package systemd)', () => run('systemd-analyze', ['--version']))) ??
  (await requireHostTools()) ??
  (await prerequisite('dockerd is needed (Debian package docker.io)', () => run('dockerd', ['--version'])))

/** The ELF e_machine of each architecture (bytes 18-19, little-endian). */
const MACHINE = { amd64: 62, arm64: 183 } as const
const PREBUILD = { amd64: 'linux-x64', arm64: 'linux-arm64' } as const
type Arch = keyof typeof MACHINE

/** dpkgRoot installs a package into ROOT: its own dpkg database, scripts run chrootless with DPKG_ROOT=ROOT. */
async function dpkgRoot(root: string, deb: string): Promise<string> {
  for (const d of ['info', 'updates', 'triggers']) await mkdir(join(root, 'var/lib/dpkg', d), { recursive: true })
  for (const f of ['status', 'available']) await writeFile(join(root, 'var/lib/dpkg', f), '', { flag: 'a' })
  // --force-depends: the root holds no libc6 package (the host's libraries are used).
  const { stdout } = await run('dpkg', ['--root', root, '--force-script-chrootless', '--force-depends', '--force-confdef', '--force-confold', '-i', deb], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return stdout
}

async function elfMachine(path: string): Promise<number> {
  const f = await open(path, 'r')
  try {
    const b = Buffer.alloc(20)
    await f.read(b, 0, 20, 0)
    assert.deepEqual([...b.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${path} is not an ELF file`)
    assert.equal(b[5], 1, `${path}: not little-endian`)
    return b.readUInt16LE(18)
  } finally {
    await f.close()
  }
}

describe('packages (npm run package)', { skip }, () => {
  let out: string
  let cluster: TestCluster
  const fabric = new Fabric(211)
  let dockerd: ChildProcess | undefined
  let dockerDir = ''
  /** The namespace host's own dockerd (never the shared one). */
  const sock = (): string => `unix://${dockerDir}/d.sock`
  const roots: Partial<Record<Arch, string>> = {}
  let commit: string
  const deb = (arch: Arch): string => join(out, `daemonmesh_${pkg.version}_${arch}.deb`)

  before(async () => {
    // The commit the build will bake in, read as it starts.
    commit = (await run('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: repoPath('') })).stdout.trim()
    if ((await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoPath('') })).stdout !== '') commit += '-dirty'
    out = await mkdtemp(join(tmpdir(), 'dm-pkg-out-'))
    // dist/ is what the test runs from, so it is fresh; the npm tarballs are cached in /tmp.
    await run('bash', [repoPath('scripts/package/build.sh'), '--skip-tsc'], { env: { ...process.env, DAEMONMESH_PKG_OUT: out }, maxBuffer: 1 << 24 })
    // arm64: unpacked only; amd64: installed, as on a host.
    roots.arm64 = await mkdtemp(join(tmpdir(), 'dm-pkg-root-arm64-'))
    await run('dpkg', ['-x', deb('arm64'), roots.arm64])
    roots.amd64 = await mkdtemp(join(tmpdir(), 'dm-pkg-root-amd64-'))
    await dpkgRoot(roots.amd64, deb('amd64'))
  })

  after(async () => {
    await cluster?.stopAll()
    if (dockerd !== undefined) {
      // Only this test's dockerd: every container in it is ours.
      const ids = (await docker(sock(), 'ps', '-aq').catch(() => '')).split('\n').filter((x) => x !== '')
      if (ids.length > 0) await docker(sock(), 'rm', '-f', ...ids).catch(() => undefined)
      const exited = new Promise((r) => dockerd?.once('exit', r))
      dockerd.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))])
    }
    await fabric.destroy()
    if (dockerDir !== '') await rm(dockerDir, { recursive: true, force: true }).catch(() => undefined)
    if (cluster !== undefined) await rm(cluster.root, { recursive: true, force: true }).catch(() => undefined)
    // About 600 MB of packages and unpacked roots.
    await Promise.all([out, ...Object.values(roots)].filter((d) => d !== undefined).map((d) => rm(d, { recursive: true, force: true })))
  })

  for (const arch of ['amd64', 'arm64'] as const) {
    it(`${arch}: control fields, files, and the runtime and LevelDB binding of ${arch}`, async () => {
      const fields = (await run('dpkg-deb', ['--field', deb(arch), 'Package', 'Version', 'Architecture', 'Depends'])).stdout
      assert.match(fields, /^Package: daemonmesh$/m)
      assert.match(fields, new RegExp(`^Version: ${pkg.version.replaceAll('.', '\\.')}$`, 'm'))
      assert.match(fields, new RegExp(`^Architecture: ${arch}$`, 'm'))
      assert.match(fields, /^Depends: libc6/m)
      const info = (await run('dpkg-deb', ['--info', deb(arch)])).stdout
      for (const s of ['postinst', 'prerm', 'postrm', 'md5sums']) assert.match(info, new RegExp(`\\s${s}\\s`), `${arch}: no ${s}`)
      assert.equal((await run('dpkg-deb', ['--info', deb(arch), 'conffiles'])).stdout, '/etc/daemonmesh/agent.yaml\n')

      const listing = (await run('dpkg-deb', ['-c', deb(arch)], { maxBuffer: 1 << 26 })).stdout
      const files = listing.split('\n').filter((l) => l !== '').map((l) => l.replace(/^.* \.\//, '').replace(/ -> .*$/, ''))
      for (const f of ['usr/bin/daemonmesh', 'usr/lib/daemonmesh/node', 'usr/lib/daemonmesh/bin/daemonmesh.js', 'usr/lib/daemonmesh/dist/agent/main.js', 'usr/lib/daemonmesh/dist/cli/main.js', 'usr/lib/daemonmesh/dist/bundle/cli/main.mjs', 'usr/lib/daemonmesh/build-info.json', 'usr/lib/daemonmesh/package.json', 'usr/lib/daemonmesh/node_modules/level/package.json', 'lib/systemd/system/daemonmesh-agent.service', 'etc/daemonmesh/agent.yaml', 'usr/share/doc/daemonmesh/copyright']) {
        assert.ok(files.includes(f), `${arch}: ${f} missing`)
      }
      assert.match(listing, /^-rwxr-xr-x root\/root .* \.\/usr\/bin\/daemonmesh$/m)
      assert.match(listing, /^drwxr-x--- root\/root .* \.\/etc\/daemonmesh\/$/m)
      // No tests, no dev dependencies, no npm, no other architecture's native code.
      const other = PREBUILD[arch === 'amd64' ? 'arm64' : 'amd64']
      for (const bad of ['usr/lib/daemonmesh/dist/test/', 'node_modules/typescript/', 'node_modules/fast-check/', 'node_modules/node/', 'node_modules/npm/', `prebuilds/${other}/`, 'prebuilds/win32', 'prebuilds/darwin']) {
        assert.ok(!files.some((f) => f.includes(bad)), `${arch}: holds ${bad}`)
      }

      const root = roots[arch]!
      const lib = join(root, 'usr/lib/daemonmesh')
      assert.equal(await elfMachine(join(lib, 'node')), MACHINE[arch], `${arch}: bundled node`)
      const bindings = files.filter((f) => f.startsWith('usr/lib/daemonmesh/node_modules/classic-level/prebuilds/') && f.endsWith('.node'))
      assert.ok(bindings.length > 0 && bindings.every((f) => f.includes(`/prebuilds/${PREBUILD[arch]}/`)), `${arch}: LevelDB bindings ${bindings.join(', ')}`)
      for (const b of bindings) assert.equal(await elfMachine(join(root, b)), MACHINE[arch], `${arch}: ${b}`)

      // The tarball holds the same tree.
      const tarFiles = (await run('tar', ['-tzf', join(out, `daemonmesh_${pkg.version}_${arch}.tar.gz`)], { maxBuffer: 1 << 26 })).stdout
        .split('\n').filter((l) => l !== '').map((l) => l.replace(/\/$/, ''))
      assert.deepEqual(new Set(tarFiles), new Set(files.map((f) => f.replace(/\/$/, '')).filter((f) => f !== '' && f !== '.')))
    })
  }

  it('amd64 unpacked: `daemonmesh version` names the version, the commit and Node, with no npm', async () => {
    const { stdout, stderr } = await run(join(roots.amd64!, 'usr/bin/daemonmesh'), ['version'], { env: { PATH: '/usr/bin:/bin' } })
    assert.equal(stdout, `daemonmesh ${pkg.version}\ncommit: ${commit}\nnode: v${pkg.dependencies.node}\n`)
    assert.equal(stderr, '')
  })

  // The packaged host and the daemon it runs, shared by the cases below.
  let packaged: TestAgent
  let host: Host
  const config = (): string => join(roots.amd64!, 'etc/daemonmesh/agent.yaml')
  const idle = async (): Promise<{ id: string; startedAt: string }[]> => {
    const rows = (await managed(sock())).filter((r) => r.daemonSet === 'default.pkgt-idle' && r.state === 'running')
    return Promise.all(rows.map(async (r) => ({ id: r.id, startedAt: (await docker(sock(), 'inspect', '--format', '{{.State.StartedAt}}', r.id)).trim() })))
  }

  it('amd64 installed (dpkg --root): enabled in that root only; `daemonmesh join` provisions a namespace host whose agent joins a fleet run from the checkout and runs its daemon', async () => {
    const root = roots.amd64!
    // postinst enabled the unit inside the root, as `systemctl enable` would.
    const link = join(root, 'etc/systemd/system/multi-user.target.wants/daemonmesh-agent.service')
    assert.ok((await lstat(link)).isSymbolicLink())
    assert.equal(await readlink(link), '/lib/systemd/system/daemonmesh-agent.service')
    assert.match((await run('dpkg', ['--root', root, '-s', 'daemonmesh'])).stdout, /^Status: install ok installed$/m)

    cluster = await TestCluster.create('pkg')
    await fabric.up()
    const tokenFile = join(cluster.root, 'pkgt.token')
    const made = await cli('token', 'create', '--key', cluster.operatorKeyFile, '--names', 'pkgt-*', '--out', tokenFile)
    assert.equal(made.code, 0, made.stderr)
    // The fleet: two agents from the checkout, admission enforced, joined with the token.
    const fleet: TestAgent[] = []
    for (const name of ['pkgt-co-1', 'pkgt-co-2']) {
      const h = await fabric.addHost(name)
      const boot = fleet.length === 0 ? [] : [`/ip4/${fabric.hosts[0]!.address}/tcp/7946`]
      fleet.push(await cluster.agent({ name, netns: h.ns, listen: '/ip4/0.0.0.0/tcp/7946', bootstrap: boot, admission: 'enforced', joinToken: tokenFile }).start())
    }

    // The packaged host: its own dockerd, provisioned in one command with the package's CLI.
    host = await fabric.addHost('pkgt-deb')
    dockerDir = await mkdtemp('/tmp/dmpk')
    dockerd = await startDockerd(host, dockerDir, sock())
    await buildTestImage(sock())
    packaged = cluster.agent({ name: 'pkgt-deb', netns: host.ns, launcher: join(root, 'usr/bin/daemonmesh'), configOnly: true, config: config() })
    const joined = await run(join(root, 'usr/bin/daemonmesh'), [
      'join', '--token', tokenFile, '--cluster-key', cluster.clusterKeyFile, '--bootstrap', `/ip4/${fabric.hosts[0]!.address}/tcp/7946`,
      '--name', 'pkgt-deb', '--label', 'pkgt=yes', '--config', config(), '--data-dir', packaged.dir, '--api', `unix://${join(packaged.dir, 'agent.sock')}`, '--docker', sock(), '--no-start',
    ], { env: { PATH: '/usr/bin:/bin' } })
    // The conffile was still the package's example: replaced without --force.
    assert.match(joined.stdout, /^wrote .*join\.token, .*cluster\.key, .*agent\.yaml/)
    assert.match(joined.stdout, /not started \(--no-start\)/)
    await packaged.start()

    const names = ['pkgt-co-1', 'pkgt-co-2', 'pkgt-deb']
    await waitFor('all three agents see each other Alive (admitted)', async () => {
      for (const a of cluster.agents) {
        const alive = (await a.nodes()).filter((n) => n.status.state === 'Alive').map((n) => n.metadata.name).sort()
        if (alive.join() !== names.join()) return false
      }
      return true
    }, 60_000, 250)
    assert.equal((await packaged.health()).node, 'pkgt-deb')

    // A DaemonSet applied through a checkout agent runs on the packaged host (the only one labelled).
    const ds = join(cluster.root, 'pkgt-idle.yaml')
    await writeFile(ds, `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: pkgt-idle}\nspec:\n  selector: {matchLabels: {app: pkgt-idle}}\n  template:\n    metadata: {labels: {app: pkgt-idle}}\n    spec:\n      nodeSelector: {pkgt: "yes"}\n      containers:\n      - name: main\n        image: ${IDLE_IMAGE}\n        imagePullPolicy: Never\n`)
    const applied = await cli('apply', '-f', ds, '--agent', fleet[0]!.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(applied.code, 0, applied.stderr)
    await waitFor('the daemon runs on the packaged host', async () => (await idle()).length === 1, 60_000, 250)
  })

  it('amd64 upgrade: the package installed again over the running agent keeps the join config; the daemon stays up across the agent restart', async () => {
    assert.ok(packaged !== undefined, 'the previous case provisioned the host')
    const before = await idle()
    assert.equal(before.length, 1)
    const cfg = await readFile(config(), 'utf8')
    // dpkg runs prerm upgrade, unpacks, then postinst configure OLD-VERSION (DPKG_ROOT: no systemd asked).
    await dpkgRoot(roots.amd64!, deb('amd64'))
    assert.equal(await readFile(config(), 'utf8'), cfg, 'the conffile edited by join is kept')
    // What postinst's try-restart does under systemd: the agent stops (SIGTERM) and starts from the new files.
    assert.equal(await packaged.stop('SIGTERM'), 0)
    assert.deepEqual(await idle(), before, 'the container runs on while no agent does')
    await packaged.start()
    await waitFor('the restarted agent reports its daemon ready', async () => {
      const me = (await packaged.nodes()).find((n) => n.metadata.name === 'pkgt-deb')
      return me?.status.state === 'Alive' && me.status.pods?.['default/pkgt-idle']?.ready === true
    }, 60_000, 250)
    // Adopted, not replaced: the same container, started once.
    assert.deepEqual(await idle(), before)
    assert.equal((await managed(sock())).length, 1)
  })

  it('amd64 installed: the unit passes systemd-analyze verify', async () => {
    // The unit as installed, with /usr/bin/daemonmesh pointed at the unpacked launcher.
    const unit = await readFile(join(roots.amd64!, 'lib/systemd/system/daemonmesh-agent.service'), 'utf8')
    assert.match(unit, /^ExecStart=\/usr\/bin\/daemonmesh agent --config \/etc\/daemonmesh\/agent\.yaml$/m)
    const dir = await mkdtemp(join(tmpdir(), 'dm-pkg-unit-'))
    const path = join(dir, 'daemonmesh-agent.service')
    await writeFile(path, unit.replace('ExecStart=/usr/bin/daemonmesh', `ExecStart=${join(roots.amd64!, 'usr/bin/daemonmesh')}`))
    const { stderr } = await run('systemd-analyze', ['verify', path]).finally(() => rm(dir, { recursive: true, force: true }))
    assert.equal(stderr.trim(), '', stderr)
  })

  it('the maintainer scripts are valid sh', async () => {
    for (const s of ['postinst', 'prerm', 'postrm']) await run('sh', ['-n', repoPath(`scripts/package/${s}`)])
  })
})
