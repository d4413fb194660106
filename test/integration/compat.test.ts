// Wire compatibility N / N-1 (docs/compatibility.md): an agent of the previous release, run
// from its own Debian package built from git (test/helpers/previous-release.ts), beside agents
// of this tree, all in the default configuration (admission enforced, hosts joined with a
// token). Membership works both ways, a DaemonSet applied through either version reaches every
// agent, and no side rejects anything the other sends (/health `rejected`).

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { MAX_LEASE_FRAME_BYTES } from '../../agent/lease/lease.js'
import { LEASE_LINK_PROTOCOL, LEASE_PROTOCOL } from '../../agent/network/constants.js'
import { ProtocolNotSupportedError } from '../../agent/transport.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'
import { repoPath } from '../helpers/fixtures.js'
import { cli } from '../helpers/hosts.js'
import { previousRelease, type PreviousRelease } from '../helpers/previous-release.js'
import { prerequisite } from '../helpers/prereq.js'
import { startRogue } from '../helpers/rogue.js'

const run = promisify(execFile)
const VERSION = (JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { version: string }).version

const skip =
  (await prerequisite('dpkg-deb is needed (Debian package dpkg)', () => run('dpkg-deb', ['--version']))) ??
  (await prerequisite('git is needed (the previous release is built from it)', () => run('git', ['--version'])))

describe(`wire compatibility: ${VERSION} beside the previous release`, { skip }, () => {
  let prev: PreviousRelease
  let root = ''
  let cluster: TestCluster
  let n1: TestAgent
  let old: TestAgent
  let n2: TestAgent

  before(async () => {
    prev = await previousRelease()
    assert.notEqual(prev.version, VERSION, 'package.json names a new version')
    root = await mkdtemp(join(tmpdir(), 'dm-compat-root-'))
    await run('dpkg', ['-x', prev.deb, root])
    cluster = await TestCluster.create('compat')
    const token = join(cluster.root, 'cmp.token')
    const made = await cli('token', 'create', '--key', cluster.operatorKeyFile, '--names', 'cmp-*', '--out', token)
    assert.equal(made.code, 0, made.stderr)
    // Default configuration: admission enforced, every host joins with the token. Bootstraps
    // cross versions both ways: old dials a new agent first, the second new one dials old.
    n1 = await cluster.agent({ name: 'cmp-new-1', admission: 'enforced', joinToken: token }).start()
    old = await cluster.agent({ name: 'cmp-old', launcher: join(root, 'usr/bin/daemonmesh'), admission: 'enforced', joinToken: token, bootstrap: [await n1.address()] }).start()
    n2 = await cluster.agent({ name: 'cmp-new-2', admission: 'enforced', joinToken: token, bootstrap: [await old.address()] }).start()
  })

  after(async () => {
    await cluster?.stopAll()
    if (root !== '') await rm(root, { recursive: true, force: true })
    if (cluster !== undefined) await rm(cluster.root, { recursive: true, force: true })
  })

  it('membership both ways: every agent sees all three Alive, with both versions', async () => {
    const names = ['cmp-new-1', 'cmp-new-2', 'cmp-old']
    await waitFor('all three Alive everywhere', async () => {
      for (const a of [n1, old, n2]) {
        const alive = (await a.nodes()).filter((n) => n.status.state === 'Alive').map((n) => n.metadata.name).sort()
        if (alive.join() !== names.join()) return false
      }
      return true
    }, 60_000, 250)
    for (const a of [n1, old, n2]) {
      const versions = Object.fromEntries((await a.nodes()).map((n) => [n.metadata.name, (n.status as unknown as { agentVersion: string }).agentVersion]))
      assert.deepEqual(versions, { 'cmp-new-1': VERSION, 'cmp-new-2': VERSION, 'cmp-old': prev.version }, a.name)
    }
  })

  for (const [via, name] of [['the previous release', 'cmp-via-old'], [`${VERSION}`, 'cmp-via-new']] as const) {
    it(`a DaemonSet applied through ${via} reaches every agent`, async () => {
      const target = via === 'the previous release' ? old : n1
      const f = join(cluster.root, `${name}.yaml`)
      await writeFile(f, manifest(name))
      const r = await cli('apply', '-f', f, '--agent', target.target.address, '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
      await waitFor(`${name} on every agent`, async () => {
        for (const a of [n1, old, n2]) if (!(await a.daemonSets()).some((d) => d.metadata.name === name)) return false
        return true
      }, 30_000, 250)
    })
  }

  it(`lease carriage: the previous release serves no lease links (so ${VERSION} asks it on a stream per request) and still serves the streams`, async () => {
    // A bare peer with the cluster key opens channels only: it sends nothing, so nothing is judged or rejected.
    const dir = join(cluster.root, 'cmp-peer')
    await mkdir(dir, { recursive: true })
    const peer = await startRogue(cluster.clusterKeyFile, dir)
    try {
      const limits = { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: 5000 }
      const oldPeer = await peer.net.dial(await old.address())
      await assert.rejects(peer.net.open(oldPeer, LEASE_LINK_PROTOCOL, { ...limits, idleMs: 5000 }), ProtocolNotSupportedError)
      await (await peer.net.open(oldPeer, LEASE_PROTOCOL, limits)).close()
      const newPeer = await peer.net.dial(await n1.address())
      await (await peer.net.open(newPeer, LEASE_LINK_PROTOCOL, { ...limits, idleMs: 5000 })).close()
      await (await peer.net.open(newPeer, LEASE_PROTOCOL, limits)).close()
    } finally {
      await peer.net.stop()
    }
  })

  it('nothing was rejected at either side, and the stores agree', async () => {
    // A full anti-entropy round after the last write (1 s in tests) before comparing.
    await waitFor('one store digest', async () => new Set(await Promise.all([n1, old, n2].map(async (a) => (await a.health()).storeDigest))).size === 1, 30_000, 250)
    for (const a of [n1, old, n2]) assert.equal((await a.health()).rejected, 0, `${a.name} rejected something: ${await a.logTail(40)}`)
  })
})
