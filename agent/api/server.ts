// The agent's local API: HTTP on a unix socket (default) or on TCP with a bearer token.
// The CLI signs writes; the agent verifies them. Every request body is bounded and
// checked; a bad request changes nothing.

import { timingSafeEqual } from 'node:crypto'
import { chmod, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { z } from 'zod'
import { VERSION } from '../../core/version.js'
import type { Agent } from '../agent.js'
import { daemonSetObject, nodeObject } from './views.js'

/** Largest request body (a signed DaemonSet envelope is a few KiB). */
const MAX_BODY_BYTES = 1024 * 1024

class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'request body is not JSON')
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const denySchema = z.object({ peers: z.array(z.string().max(128)).max(1000) }).strict()

export interface ApiOptions {
  address: string
  token?: string
  testHooks: boolean
  log: Logger
}

/** ApiServer serves one agent. */
export class ApiServer {
  private readonly server: Server
  private readonly agent: Agent
  private readonly opts: ApiOptions

  constructor(agent: Agent, opts: ApiOptions) {
    this.agent = agent
    this.opts = opts
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500
        if (status === 500) opts.log.error({ err }, 'API request failed')
        send(res, status, { error: (err as Error).message })
      })
    })
  }

  /** listen binds the socket (replacing a stale unix socket file, mode 0660) or TCP port. */
  async listen(): Promise<void> {
    if (this.opts.address.startsWith('unix://')) {
      const path = this.opts.address.slice('unix://'.length)
      await rm(path, { force: true })
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject)
        this.server.listen(path, () => resolve())
      })
      await chmod(path, 0o660)
    } else {
      const url = new URL(this.opts.address)
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject)
        this.server.listen(Number(url.port), url.hostname, () => resolve())
      })
    }
    this.opts.log.info({ address: this.opts.address }, 'API listening')
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.opts.token === undefined) return true
    const given = Buffer.from(req.headers.authorization ?? '')
    const want = Buffer.from(`Bearer ${this.opts.token}`)
    return given.length === want.length && timingSafeEqual(given, want)
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.authorized(req)) throw new HttpError(401, 'missing or wrong bearer token')
    const url = new URL(req.url ?? '/', 'http://agent')
    const path = url.pathname
    const method = req.method ?? 'GET'
    const a = this.agent
    if (method === 'GET' && path === '/v1/health') {
      const memory = process.memoryUsage()
      send(res, 200, {
        status: 'ok',
        version: VERSION,
        node: a.config.name,
        peerId: a.network.peerId,
        addresses: a.network.addresses(),
        peers: a.network.connectedPeers().length,
        storeDigest: a.store.map.digest(),
        storeEntries: a.store.map.size,
        rejected: await a.metrics.rejectedTotal(),
        heapUsedBytes: memory.heapUsed,
        rssBytes: memory.rss,
      })
      return
    }
    if (method === 'GET' && path === '/metrics') {
      const text = await a.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': a.metrics.registry.contentType })
      res.end(text)
      return
    }
    if (method === 'GET' && path === '/v1/nodes') {
      send(res, 200, { apiVersion: 'v1', kind: 'List', items: a.membership.nodes().map(nodeObject) })
      return
    }
    if (method === 'GET' && path === '/v1/lease') {
      // The update slots this agent, as a voter, counts as busy.
      send(res, 200, { slots: a.lease.slots() })
      return
    }
    if (method === 'GET' && path === '/v1/daemonsets') {
      const members = a.members()
      const now = Date.now()
      send(res, 200, { apiVersion: 'v1', kind: 'List', items: a.store.map.live('ds/').map((e) => daemonSetObject(e, members, now)) })
      return
    }
    const dsMatch = /^\/v1\/daemonsets\/([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(path)
    if (method === 'GET' && dsMatch !== null) {
      const env = a.store.map.get(`ds/${dsMatch[1]}/${dsMatch[2]}`)
      if (env === undefined || env.op !== 'put') throw new HttpError(404, `daemonset ${dsMatch[1]}/${dsMatch[2]} not found`)
      send(res, 200, daemonSetObject(env, a.members(), Date.now()))
      return
    }
    if (method === 'GET' && path === '/v1/envelopes') {
      const key = url.searchParams.get('key') ?? ''
      const env = a.store.map.get(key)
      if (env === undefined) throw new HttpError(404, `no envelope under ${key}`)
      send(res, 200, env)
      return
    }
    if (method === 'POST' && path === '/v1/envelopes') {
      const body = await readJson(req)
      const author = (body as { author?: unknown } | null)?.author
      if (typeof author === 'string' && !a.store.trusts(author)) {
        a.metrics.rejected.inc({ map: 'store', source: 'api' })
        this.opts.log.warn({ author: author.slice(0, 64) }, 'write from an untrusted key refused')
        throw new HttpError(403, `author ${author.slice(0, 64)} is not a trusted operator key`)
      }
      const r = await a.write(body)
      if (r.status === 'rejected') throw new HttpError(r.why === 'forged' ? 403 : 400, r.reason)
      send(res, 200, { status: r.status })
      return
    }
    if (method === 'POST' && path === '/v1/test/deny') {
      if (!this.opts.testHooks) throw new HttpError(404, 'test hooks are disabled')
      const body = denySchema.safeParse(await readJson(req))
      if (!body.success) throw new HttpError(400, 'body must be {"peers": [PEER_ID, ...]}')
      await a.network.setDenied(body.data.peers)
      send(res, 200, { denied: body.data.peers.length })
      return
    }
    throw new HttpError(404, `no route for ${method} ${path}`)
  }
}
