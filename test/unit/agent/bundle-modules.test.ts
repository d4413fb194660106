// What loading the bundled agent (dist/bundle/agent.mjs) brings of Node's own modules: not
// Node's bundled undici, nor HTTP/2, which an agent does not use until a pod's gRPC probe
// needs it. An `import` of node:http would load both (scripts/bundle-agent.mjs says why), so
// would a static import of node:http2; together about 3 MB of memory (docs/idle-cost.md).

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { repoPath } from '../../helpers/fixtures.js'

const run = promisify(execFile)

test('loading the bundled agent loads none of undici, HTTP/2, HTTPS, TLS and zlib', async () => {
  const script = `const before = new Set(process.moduleLoadList)
await import(${JSON.stringify(repoPath('dist/bundle/agent.mjs'))})
process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))))`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script])
  const loaded = JSON.parse(stdout) as string[]
  assert.ok(loaded.includes('NativeModule net'), 'the probe saw the agent load its modules')
  assert.deepEqual(loaded.filter((m) => /undici|http2|https|tls|zlib/.test(m)), [])
})
