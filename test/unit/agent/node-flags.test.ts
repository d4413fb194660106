// The agent's Node flags are written in three places (npm start, the systemd unit, the
// package's launcher): they must be the same list, or production and the bench (which runs
// `npm start`'s) measure different processes.

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { repoPath } from '../../helpers/fixtures.js'

/** flagsBefore returns the words between the node executable and the entry script. */
function flagsBefore(line: string, node: RegExp, entry: RegExp): string[] {
  const words = line.trim().split(/\s+/)
  const from = words.findIndex((w) => node.test(w))
  const to = words.findIndex((w) => entry.test(w))
  assert.ok(from >= 0 && to > from, `no node … entry in ${line}`)
  return words.slice(from + 1, to)
}

test('npm start, the systemd unit and the package launcher run the agent with the same Node flags', async () => {
  const pkg = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { scripts: { start: string } }
  const start = flagsBefore(pkg.scripts.start, /^node$/, /^bin\/daemonmesh\.js$/)
  const unit = (await readFile(repoPath('systemd/daemonmesh-agent.service'), 'utf8')).split('\n').find((l) => l.startsWith('ExecStart=')) ?? ''
  const launcher = (await readFile(repoPath('scripts/package/daemonmesh.sh'), 'utf8')).split('\n').find((l) => l.includes('exec') && l.includes('--')) ?? ''
  assert.ok(start.length > 0)
  assert.deepEqual(flagsBefore(unit, /\/node$/, /daemonmesh\.js$/), start)
  assert.deepEqual(flagsBefore(launcher, /node"$/, /daemonmesh\.js"$/), start)
})
