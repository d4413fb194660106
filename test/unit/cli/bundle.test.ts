// The `daemonmesh` command runs the bundled CLI (dist/bundle/cli/, scripts/bundle-cli.mjs):
// each command's code in a chunk loaded when it runs. What `get` loads there: not Node's
// bundled undici, HTTP/2 or TLS, and no chunk that holds the YAML library, which only `-o
// yaml` and `-f` need (start-modules.test.ts checks the same of the compiled modules).

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { repoPath } from '../../helpers/fixtures.js'

const run = promisify(execFile)
const DIR = repoPath('dist/bundle/cli')

/** closure lists the chunks a chunk imports statically, itself included, transitively. */
function closure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen
  seen.add(file)
  for (const m of readFileSync(join(DIR, file), 'utf8').matchAll(/from\s*"\.\/([\w.-]+\.mjs)"/g)) closure(m[1] as string, seen)
  return seen
}

/** The entry chunk of one command (esbuild names it after the module: get-HASH.mjs). */
const commandChunk = (name: string): string => {
  const found = readdirSync(DIR).filter((f) => new RegExp(`^${name}-[\\w]+\\.mjs$`).test(f))
  assert.equal(found.length, 1, `one chunk for ${name}: ${found.join(', ')}`)
  return found[0] as string
}

const holdsYaml = (files: Set<string>): boolean => [...files].some((f) => readFileSync(join(DIR, f), 'utf8').includes('YAMLParseError'))

describe('the bundled CLI', () => {
  it('runs for `daemonmesh --help`', async () => {
    const { stdout } = await run(process.execPath, [repoPath('bin/daemonmesh.js'), '--help'])
    assert.match(stdout, /^Usage: daemonmesh /m)
  })

  it('loads no YAML for `get`, and does for `apply` (the probe sees it)', () => {
    assert.equal(holdsYaml(closure('main.mjs')), false, 'main')
    assert.equal(holdsYaml(closure(commandChunk('get'))), false, 'get')
    assert.equal(holdsYaml(closure(commandChunk('apply'))), true, 'apply')
  })

  it('loads neither undici, HTTP/2 nor TLS to reach an agent', async () => {
    const probe = `process.on('exit', () => process.stderr.write('\\n@@' + JSON.stringify(process.moduleLoadList)))`
    const out = await run(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, repoPath('bin/daemonmesh.js'), 'get', 'ds', '--agent', 'unix:///nonexistent/agent.sock']).catch((e: { stderr: string }) => e)
    const loaded = JSON.parse(out.stderr.split('\n@@').at(-1) ?? '[]') as string[]
    assert.ok(loaded.includes('NativeModule http'), 'the probe saw the CLI load node:http')
    assert.deepEqual(loaded.filter((m) => /undici|http2|tls/.test(m)), [])
  })
})
