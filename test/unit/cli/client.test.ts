import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { call } from '../../../cli/client.js'

// A client that kept connections alive would, sooner or later, send a request on one the
// agent's server was closing for idling, and fail with ECONNRESET (seen by a benchmark
// polling 30 agents). Each call has a connection of its own, closed after its answer.
test('each call opens its own connection and closes it after the answer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dm-client-'))
  const path = join(dir, 'api.sock')
  let connections = 0
  let open = 0
  const headers: string[] = []
  const server = createServer((req, res) => {
    headers.push(req.headers.connection ?? '')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"ok":true}')
  })
  server.on('connection', (socket) => {
    connections++
    open++
    socket.on('close', () => open--)
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  try {
    const target = { address: `unix://${path}` }
    assert.deepEqual(await call(target, 'GET', '/v1/health'), { ok: true })
    assert.deepEqual(await call(target, 'GET', '/v1/health'), { ok: true })
    assert.equal(connections, 2)
    assert.deepEqual(headers, ['close', 'close'])
    for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(open, 0, 'no connection left open after its answer')
  } finally {
    await new Promise((resolve) => server.close(resolve))
    await rm(dir, { recursive: true, force: true })
  }
})
