// The systemd unit passes `systemd-analyze verify` (paths pointed at this checkout), and
// the example config it names is a valid agent config. The agent writes Node's compile cache
// (the unit's NODE_COMPILE_CACHE) once started, so even a killed agent restarts from it.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { TestCluster, waitFor } from '../helpers/cluster.js'
import { repoPath } from '../helpers/fixtures.js'
import { prerequisite } from '../helpers/prereq.js'

const run = promisify(execFile)

const skip = await prerequisite('systemd-analyze is needed (Debian package systemd)', () => run('systemd-analyze', ['--version']))

describe('systemd unit', { skip }, () => {
  it('passes systemd-analyze verify', async () => {
    const unit = await readFile(repoPath('systemd/daemonmesh-agent.service'), 'utf8')
    assert.match(unit, /^Type=notify$/m)
    assert.match(unit, /^After=network-online\.target docker\.service$/m)
    assert.match(unit, /^Restart=always$/m)
    for (const d of ['StateDirectory', 'RuntimeDirectory', 'ConfigurationDirectory', 'CacheDirectory']) assert.match(unit, new RegExp(`^${d}=daemonmesh$`, 'm'))
    const dir = await mkdtemp(join(tmpdir(), 'dm-unit-'))
    const path = join(dir, 'daemonmesh-agent.service')
    await writeFile(path, unit.replaceAll('/opt/daemonmesh', repoPath('').replace(/\/$/, '')))
    const { stderr } = await run('systemd-analyze', ['verify', path])
    assert.equal(stderr.trim(), '', stderr)
  })
})

/** cachedBytes sums the sizes of the files under `dir` (Node's compile cache: a directory per Node version). */
async function cachedBytes(dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size
  return total
}

describe("Node's compile cache", () => {
  it('is written once the agent started, before any exit, and a killed agent starts again with it', async () => {
    const cluster = await TestCluster.create('dm-ccache-')
    const cache = join(cluster.root, 'compile-cache')
    try {
      const agent = cluster.agent({ name: 'cc-1', env: { NODE_COMPILE_CACHE: cache } })
      await agent.start()
      // The agent's bundle compiled is some hundreds of KB; written without the agent exiting.
      await waitFor('the compile cache written', async () => (await cachedBytes(cache)) > 100_000, 20_000, 100)
      const written = await cachedBytes(cache)
      await agent.stop('SIGKILL')
      await agent.start()
      assert.equal((await agent.health()).node, 'cc-1')
      assert.ok((await cachedBytes(cache)) >= written)
    } finally {
      await cluster.stopAll()
    }
  })
})
