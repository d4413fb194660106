import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { main } from '../../../cli/main.js'
import { generateKeyPair } from '../../../core/keys.js'
import { manifest } from '../../helpers/cluster.js'

// On a busy host every request the CLI makes waits for the agent's event loop, so a write
// costs what its round trips cost. Reads a write needs go out together: the entry it
// replaces, its DaemonSet's history entry, and the cluster id (asked once per command). The
// fake agent here holds every read until all of the reads of one round have arrived (or a
// second has passed), and notes how many requests were open when each arrived: reads sent
// one after the other would each find none open.

interface Seen {
  method: string
  path: string
  /** Requests that were open when this one arrived. */
  open: number
}

/**
 * fakeAgent answers the store API from `stored` (key -> envelope), holding reads until
 * `together` are open at once (or 1 s). `batches` false: it predates `POST /v1/envelopes/batch`
 * (404, as an agent of 0.1.x answers).
 */
async function fakeAgent(stored: Map<string, unknown>, together: number, batches = true): Promise<{ address: string; seen: Seen[]; posted: unknown[]; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dm-rt-'))
  const path = join(dir, 'api.sock')
  const seen: Seen[] = []
  const posted: unknown[] = []
  let held: (() => void)[] = []
  let open = 0
  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const send = (status: number, value: unknown): void => {
      const text = JSON.stringify(value)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    const url = new URL(req.url ?? '/', 'http://agent')
    if (req.method === 'GET' && url.pathname === '/v1/health') return send(200, { status: 'ok' })
    if (req.method === 'GET' && url.pathname === '/v1/envelopes') {
      const env = stored.get(url.searchParams.get('key') ?? '')
      return env === undefined ? send(404, { error: 'no envelope' }) : send(200, env)
    }
    if (req.method === 'POST' && url.pathname === '/v1/envelopes') {
      posted.push(JSON.parse(body))
      return send(200, { status: 'applied' })
    }
    if (batches && req.method === 'POST' && url.pathname === '/v1/envelopes/batch') {
      const { envelopes } = JSON.parse(body) as { envelopes: unknown[] }
      posted.push(...envelopes)
      return send(200, { statuses: envelopes.map(() => 'applied') })
    }
    send(404, { error: 'no route' })
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', open })
      open++
      res.on('finish', () => open--)
      const go = (): void => answer(req, res, Buffer.concat(chunks).toString('utf8'))
      if (req.method !== 'GET') return go()
      held.push(go)
      const release = (): void => {
        const now = held
        held = []
        for (const g of now) g()
      }
      if (held.length >= together) release()
      else setTimeout(release, 1000).unref()
    })
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  return {
    address: `unix://${path}`,
    seen,
    posted,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() })

async function operatorKey(dir: string): Promise<string> {
  const file = join(dir, 'operator.key')
  await writeFile(file, generateKeyPair().privateKeyPem, { mode: 0o600 })
  return file
}

/** applyThrough applies DaemonSet rt through `agent` (a fresh operator key), runs `check`, asserts both entries were written, DaemonSet first, and closes the agent. */
async function applyThrough(agent: Awaited<ReturnType<typeof fakeAgent>>, check: () => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dm-rt-in-'))
  try {
    const file = join(dir, 'ds.yaml')
    await writeFile(file, manifest('rt'))
    assert.equal(await main(['apply', '-f', file, '--agent', agent.address, '--key', await operatorKey(dir)], quiet, quiet), 0)
    check()
    assert.deepEqual(
      agent.posted.map((e) => (e as { key: string }).key),
      ['ds/default/rt', 'history/default/rt'],
    )
  } finally {
    await agent.close()
    await rm(dir, { recursive: true, force: true })
  }
}

test('apply of a new DaemonSet: its entry, its history entry and the cluster id are read at once, then the DaemonSet and its history are written as one batch', async () => {
  const agent = await fakeAgent(new Map(), 3)
  await applyThrough(agent, () => {
    const reads = agent.seen.filter((s) => s.method === 'GET')
    assert.equal(Math.max(...reads.map((s) => s.open)), 2, 'the last read arrived while the other two were open')
    assert.deepEqual(reads.map((s) => s.path).sort(), ['/v1/envelopes?key=ds%2Fdefault%2Frt', '/v1/envelopes?key=history%2Fdefault%2Frt', '/v1/health'])
    assert.deepEqual(agent.seen.slice(0, 3).map((s) => s.method), ['GET', 'GET', 'GET'], 'every read before the first write')
    assert.deepEqual(agent.seen.slice(3).map((s) => `${s.method} ${s.path}`), ['POST /v1/envelopes/batch'], 'one write')
  })
})

test('apply through an agent that predates batches: the DaemonSet, then its history, one write each', async () => {
  const agent = await fakeAgent(new Map(), 3, false)
  await applyThrough(agent, () => {
    assert.deepEqual(agent.seen.slice(3).map((s) => `${s.method} ${s.path}`), ['POST /v1/envelopes/batch', 'POST /v1/envelopes', 'POST /v1/envelopes'])
  })
})

test('delete of a DaemonSet: its entry, its history entry and the cluster id are read at once, then both tombstones written as one batch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dm-rt-del-'))
  // Store the DaemonSet and its history as an apply through this CLI writes them.
  const first = await fakeAgent(new Map(), 3)
  const file = join(dir, 'ds.yaml')
  await writeFile(file, manifest('rt'))
  const key = await operatorKey(dir)
  assert.equal(await main(['apply', '-f', file, '--agent', first.address, '--key', key], quiet, quiet), 0)
  await first.close()
  const stored = new Map(first.posted.map((e) => [(e as { key: string }).key, e]))
  const agent = await fakeAgent(stored, 3)
  try {
    assert.equal(await main(['delete', 'ds', 'rt', '--agent', agent.address, '--key', key], quiet, quiet), 0)
    const reads = agent.seen.filter((s) => s.method === 'GET')
    assert.equal(Math.max(...reads.map((s) => s.open)), 2, 'the last read arrived while the other two were open')
    assert.equal(agent.seen.filter((s) => s.path === '/v1/health').length, 1, 'the cluster id asked once')
    assert.deepEqual(
      agent.posted.map((e) => [(e as { key: string }).key, (e as { op: string }).op]),
      [
        ['ds/default/rt', 'delete'],
        ['history/default/rt', 'delete'],
      ],
    )
    assert.equal(agent.seen.length, 4, 'three reads and one write (a batch)')
  } finally {
    await agent.close()
    await rm(dir, { recursive: true, force: true })
  }
})
