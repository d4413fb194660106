// `npm run package` (scripts/package/build.sh): both Debian packages carry the right files and
// the runtime and LevelDB binding of their architecture; the amd64 package, unpacked into a
// temporary root, runs `daemonmesh version` and an agent that joins agents run from the
// checkout; its systemd unit passes `systemd-analyze verify`. arm64: contents only.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { TestCluster, waitFor } from '../helpers/cluster.js'
import { repoPath } from '../helpers/fixtures.js'
import { prerequisite } from '../helpers/prereq.js'

const run = promisify(execFile)
const pkg = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { version: string; dependencies: { node: string } }

const skip =
  (await prerequisite('dpkg-deb is needed (Debian package dpkg)', () => run('dpkg-deb', ['--version']))) ??
  (await prerequisite('systemd-analyze is needed (Debian package systemd)', () => run('systemd-analyze', ['--version'])))

/** The ELF e_machine of each architecture (bytes 18-19, little-endian). */
const MACHINE = { amd64: 62, arm64: 183 } as const
const PREBUILD = { amd64: 'linux-x64', arm64: 'linux-arm64' } as const
type Arch = keyof typeof MACHINE

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
    for (const arch of ['amd64', 'arm64'] as const) {
      const root = await mkdtemp(join(tmpdir(), `dm-pkg-root-${arch}-`))
      await run('dpkg', ['-x', deb(arch), root])
      roots[arch] = root
    }
  })

  after(async () => {
    await cluster?.stopAll()
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
      for (const f of ['usr/bin/daemonmesh', 'usr/lib/daemonmesh/node', 'usr/lib/daemonmesh/bin/daemonmesh.js', 'usr/lib/daemonmesh/dist/agent/main.js', 'usr/lib/daemonmesh/dist/cli/main.js', 'usr/lib/daemonmesh/build-info.json', 'usr/lib/daemonmesh/package.json', 'usr/lib/daemonmesh/node_modules/level/package.json', 'lib/systemd/system/daemonmesh-agent.service', 'etc/daemonmesh/agent.yaml', 'usr/share/doc/daemonmesh/copyright']) {
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

  it('amd64 unpacked: the agent it runs joins agents run from the checkout', async () => {
    cluster = await TestCluster.create('pkg')
    const [first] = await cluster.startMany('pkg-co', 2)
    const boot = await first!.address()
    const packaged = await cluster.agent({ name: 'pkg-deb', bootstrap: [boot], launcher: join(roots.amd64!, 'usr/bin/daemonmesh') }).start()
    const names = ['pkg-co-1', 'pkg-co-2', 'pkg-deb']
    await waitFor('all three agents see each other Alive', async () => {
      for (const a of cluster.agents) {
        const alive = (await a.nodes()).filter((n) => n.status.state === 'Alive').map((n) => n.metadata.name).sort()
        if (alive.join() !== names.join()) return false
      }
      return true
    }, 60_000, 250)
    assert.equal((await packaged.health()).node, 'pkg-deb')
  })

  it('amd64 unpacked: the installed unit passes systemd-analyze verify', async () => {
    // The unit as installed, with /usr/bin/daemonmesh pointed at the unpacked launcher.
    const unit = await readFile(join(roots.amd64!, 'lib/systemd/system/daemonmesh-agent.service'), 'utf8')
    assert.match(unit, /^ExecStart=\/usr\/bin\/daemonmesh agent --config \/etc\/daemonmesh\/agent\.yaml$/m)
    const dir = await mkdtemp(join(tmpdir(), 'dm-pkg-unit-'))
    const path = join(dir, 'daemonmesh-agent.service')
    await writeFile(path, unit.replace('ExecStart=/usr/bin/daemonmesh', `ExecStart=${join(roots.amd64!, 'usr/bin/daemonmesh')}`))
    const { stderr } = await run('systemd-analyze', ['verify', path])
    assert.equal(stderr.trim(), '', stderr)
  })

  it('the maintainer scripts are valid sh', async () => {
    for (const s of ['postinst', 'prerm', 'postrm']) await run('sh', ['-n', repoPath(`scripts/package/${s}`)])
  })
})
