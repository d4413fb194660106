// What the CLI loads to reach an agent: not Node's bundled undici, HTTP/2 or TLS (an
// `import` of node:http would load the first two; cli/node-http.ts says why), and, for
// `get` and `delete`, not the YAML library, which only `-o yaml` and `-f` need. Each was
// tens of milliseconds of every such command (docs/fleet-speed.md, runs W-Z).

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { repoPath } from '../../helpers/fixtures.js'

const run = promisify(execFile)

test('the client, get and delete load neither undici, HTTP/2 nor TLS, and no YAML', async () => {
  const modules = ['dist/cli/client.js', 'dist/cli/commands/get.js', 'dist/cli/commands/delete.js'].map((m) => JSON.stringify(repoPath(m)))
  const script = `import { createRequire } from 'node:module'
const before = new Set(process.moduleLoadList)
for (const m of [${modules.join(', ')}]) await import(m)
const yaml = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/node_modules/yaml/'))
process.stdout.write(JSON.stringify({ loaded: process.moduleLoadList.filter((m) => !before.has(m)), yaml }))`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script])
  const { loaded, yaml } = JSON.parse(stdout) as { loaded: string[]; yaml: string[] }
  assert.ok(loaded.includes('NativeModule http'), 'the probe saw the client load node:http')
  assert.deepEqual(loaded.filter((m) => /undici|http2|tls/.test(m)), [])
  assert.deepEqual(yaml, [])
})
