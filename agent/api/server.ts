// The agent's local API: HTTP on a unix socket (default) or on TCP with a bearer token.
// The CLI signs writes; the agent verifies them. Every request body is bounded and
// checked; a bad request changes nothing. It reaches the agent only through ApiBackend.

import { timingSafeEqual } from 'node:crypto'
import { chmod, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { Prefix, StoreKey, parseDsKey } from '../../core/keyspace.js'
import type { ApiBackend } from './backend.js'
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

export interface ApiOptions {
  address: string
  token?: string
  log: Logger
}

/** ApiServer serves one agent. */
export class ApiServer {
  private readonly server: Server
  private readonly backend: ApiBackend
  private readonly opts: ApiOptions

  constructor(backend: ApiBackend, opts: ApiOptions) {
    this.backend = backend
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

  /** close stops serving (a server that never listened closes at once). */
  async close(): Promise<void> {
    if (!this.server.listening) return
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
    const b = this.backend
    if (method === 'GET' && path === '/v1/health') {
      send(res, 200, await b.health())
      return
    }
    if (method === 'GET' && path === '/metrics') {
      const m = await b.metrics()
      res.writeHead(200, { 'content-type': m.contentType })
      res.end(m.text)
      return
    }
    if (method === 'GET' && path === '/v1/nodes') {
      send(res, 200, { apiVersion: 'v1', kind: 'List', items: b.nodes().map(nodeObject) })
      return
    }
    if (method === 'GET' && path === '/v1/lease') {
      // The update slots this agent, as a voter, counts as busy.
      send(res, 200, { slots: b.slots() })
      return
    }
    if (method === 'GET' && path === '/v1/daemonsets') {
      const members = b.members()
      const now = b.now()
      send(res, 200, { apiVersion: 'v1', kind: 'List', items: b.store.live(Prefix.daemonSet).map((e) => daemonSetObject(e, members, now)) })
      return
    }
    // ConfigMaps and Secrets as stored (a Secret's data sealed: this agent never opens it for the API).
    const objectPrefix = method === 'GET' ? { '/v1/configmaps': Prefix.configMap, '/v1/secrets': Prefix.secret }[path] : undefined
    if (objectPrefix !== undefined) {
      const items = b.store.live(objectPrefix).map((e) => {
        const cm = e.value as { metadata: Record<string, unknown> }
        return { ...cm, metadata: { ...cm.metadata, resourceVersion: e.hlc } }
      })
      send(res, 200, { apiVersion: 'v1', kind: 'List', items })
      return
    }
    const dsMatch = /^\/v1\/daemonsets\/([^/]+\/[^/]+)$/.exec(path)
    if (method === 'GET' && dsMatch !== null) {
      const ref = parseDsKey(dsMatch[1] ?? '')
      const env = ref === undefined ? undefined : b.store.get(StoreKey.daemonSet(ref))
      if (env === undefined || env.op !== 'put') throw new HttpError(404, `daemonset ${dsMatch[1]} not found`)
      send(res, 200, daemonSetObject(env, b.members(), b.now()))
      return
    }
    if (method === 'GET' && path === '/v1/envelopes') {
      const key = url.searchParams.get('key') ?? ''
      const env = b.store.get(key)
      if (env === undefined) throw new HttpError(404, `no envelope under ${key}`)
      send(res, 200, env)
      return
    }
    if (method === 'POST' && path === '/v1/envelopes') {
      const body = await readJson(req)
      const author = (body as { author?: unknown } | null)?.author
      if (typeof author === 'string' && !b.trusts(author)) {
        b.refuse('untrusted')
        this.opts.log.warn({ author: author.slice(0, 64) }, 'write from an untrusted key refused')
        throw new HttpError(403, `author ${author.slice(0, 64)} is not a trusted operator key`)
      }
      const r = await b.write(body)
      if (r.status === 'rejected') throw new HttpError(r.why === 'forged' ? 403 : 400, r.reason)
      send(res, 200, { status: r.status })
      return
    }
    throw new HttpError(404, `no route for ${method} ${path}`)
  }
}
