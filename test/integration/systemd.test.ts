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

const run = promisify(execFile)

async function analyzer(): Promise<string | undefined> {
  try {
    await run('systemd-analyze', ['--version'])
    return undefined
  } catch {
    const why = 'systemd-analyze is missing (Debian package systemd)'
    if (process.env.CI === 'true') throw new Error(why)
    return why
  }
}

describe('systemd unit', { skip: await analyzer() }, () => {
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
