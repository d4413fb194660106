// The agent's local API: HTTP on a unix socket (default), or on TCP with a bearer token:
// HTTPS with the agent's self-signed certificate (tls-cert.ts), or plain HTTP on loopback.
// The CLI signs writes; the agent verifies them. Every request body is bounded and
// checked; a bad request changes nothing. It reaches the agent only through ApiBackend.

import { timingSafeEqual } from 'node:crypto'
import { chmod, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Server as TlsServer } from 'node:https'
import type { Logger } from 'pino'
import { MAX_BATCH_BYTES, MAX_BATCH_ENVELOPES } from '../../core/batch.js'
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

/** The upgrade an interactive exec asks for (see session). */
export const EXEC_UPGRADE = 'daemonmesh-exec/1'
/** Largest first line of a session: a signed request is at most ~70 KiB. */
const MAX_SESSION_LINE_BYTES = 256 * 1024

/** Largest body of a logs or exec request: the signed request and up to 1 MiB of stdin in base64. */
const MAX_OPS_BODY_BYTES = 2 * 1024 * 1024

async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(413, `request body exceeds ${limit} bytes`)
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
  /** Key and certificate (PEM) of an `https://` address, and the certificate's fingerprint (logged). */
  tls?: { key: string; cert: string; fingerprint: string }
  log: Logger
}

/** ApiServer serves one agent. */
export class ApiServer {
  private server: Server | TlsServer | undefined
  private readonly backend: ApiBackend
  private readonly opts: ApiOptions

  constructor(backend: ApiBackend, opts: ApiOptions) {
    this.backend = backend
    this.opts = opts
  }

  /** serve makes the HTTP or HTTPS server; node:https (and TLS) is loaded only for an https API, most agents serve a unix socket. */
  private async serve(): Promise<Server | TlsServer> {
    const opts = this.opts
    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      this.route(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500
        if (status === 500) opts.log.error({ err }, 'API request failed')
        // A streamed answer that fails midway can only end.
        if (res.headersSent) res.end()
        else send(res, status, { error: (err as Error).message })
      })
    }
    const tls = opts.tls
    const server = tls === undefined ? createServer(handle) : (await import('node:https')).createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, handle)
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.session(req, socket, head).catch((err: unknown) => {
        opts.log.debug({ err }, 'exec session failed')
        socket.destroy()
      })
    })
    return server
  }

  /** listen binds the socket (replacing a stale unix socket file, mode 0660) or TCP port. */
  async listen(): Promise<void> {
    const server = (this.server ??= await this.serve())
    if (this.opts.address.startsWith('unix://')) {
      const path = this.opts.address.slice('unix://'.length)
      await rm(path, { force: true })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(path, () => resolve())
      })
      await chmod(path, 0o660)
    } else {
      const url = new URL(this.opts.address)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(Number(url.port), url.hostname, () => resolve())
      })
    }
    this.opts.log.info({ address: this.opts.address, ...(this.opts.tls === undefined ? {} : { fingerprint: this.opts.tls.fingerprint }) }, 'API listening')
  }

  /** close stops serving (a server that never listened closes at once). */
  async close(): Promise<void> {
    const server = this.server
    if (server === undefined || !server.listening) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
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
      send(res, 200, { apiVersion: 'v1', kind: 'List', items: b.nodes().map((n) => nodeObject(n)) })
      return
    }
    if (method === 'GET' && path === '/v1/lease') {
      // The update slots this agent, as a voter, counts as busy.
      send(res, 200, { slots: b.slots(), voters: b.voters() })
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
    if (method === 'GET' && path === '/v1/envelopes' && url.searchParams.has('author')) {
      // The live entries one key signed (`daemonmesh resign --from KEY`).
      const author = url.searchParams.get('author') ?? ''
      send(res, 200, { items: b.store.live().filter((e) => e.author === author) })
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
      this.trusted(b, body)
      const r = await b.write(body)
      if (r.status === 'rejected') throw new HttpError(r.why === 'forged' ? 403 : 400, r.reason)
      send(res, 200, { status: r.status })
      return
    }
    if (method === 'POST' && path === '/v1/envelopes/batch') {
      // Envelopes written as one (a DaemonSet and its history): all verified before any is kept (core/batch.ts).
      const envelopes = (await readJson(req, MAX_BATCH_BYTES + 1024) as { envelopes?: unknown } | null)?.envelopes
      if (!Array.isArray(envelopes) || envelopes.length === 0 || envelopes.length > MAX_BATCH_ENVELOPES) throw new HttpError(400, `the body must be {"envelopes": [...]} with 1 to ${MAX_BATCH_ENVELOPES} envelopes`)
      envelopes.forEach((e) => this.trusted(b, e))
      const r = await b.writeAll(envelopes)
      if (r.status === 'rejected') throw new HttpError(r.why === 'forged' ? 403 : 400, `envelope ${r.index + 1}: ${r.reason}`)
      send(res, 200, { statuses: r.results.map((x) => x.status) })
      return
    }
    if (method === 'POST' && (path === '/v1/logs' || path === '/v1/exec')) {
      await this.operate(req, res, path === '/v1/logs' ? 'logs' : 'exec')
      return
    }
    throw new HttpError(404, `no route for ${method} ${path}`)
  }

  /** trusted refuses (403) a write whose author is not a trusted operator key, before the store pays for its signature. */
  private trusted(b: ApiBackend, body: unknown): void {
    const author = (body as { author?: unknown } | null)?.author
    if (typeof author === 'string' && !b.trusts(author)) {
      b.refuse('untrusted')
      this.opts.log.warn({ author: author.slice(0, 64) }, 'write from an untrusted key refused')
      throw new HttpError(403, `author ${author.slice(0, 64)} is not a trusted operator key`)
    }
  }

  /**
   * session serves an interactive exec (`exec -i`): an HTTP upgrade of `POST /v1/exec` to
   * EXEC_UPGRADE. The client then sends JSON lines (each at most MAX_SESSION_LINE_BYTES):
   * `{"request": …}`, then its stdin as it comes, `{"t":"in","d":BASE64}`, and `{"t":"eof"}`
   * at its end; the agent sends the frames of `operate`, one JSON object a line, and ends
   * the connection. A refusal is an error frame with the HTTP status it would have had.
   */
  private async session(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://agent').pathname
    if (!this.authorized(req)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n')
      return
    }
    if (req.method !== 'POST' || path !== '/v1/exec' || req.headers.upgrade !== EXEC_UPGRADE) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
      return
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${EXEC_UPGRADE}\r\nconnection: Upgrade\r\n\r\n`)
    const gone = new AbortController()
    socket.on('close', () => gone.abort())
    socket.on('error', () => gone.abort())
    // Lines from the client: the request, then stdin frames (in-band, so no half-close is needed).
    const input = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    let buf = head
    const nextLine = async (): Promise<string | undefined> => {
      for (;;) {
        const nl = buf.indexOf(10)
        if (nl >= 0) {
          const line = buf.subarray(0, nl).toString('utf8')
          buf = buf.subarray(nl + 1)
          return line
        }
        if (buf.length > MAX_SESSION_LINE_BYTES) throw new Error('a session line is too long')
        const next = await input.next()
        if (next.done === true) return undefined
        buf = Buffer.concat([buf, next.value])
      }
    }
    const write = async (frame: unknown): Promise<void> => {
      if (gone.signal.aborted) throw new Error('the client went away')
      if (!socket.write(`${JSON.stringify(frame)}\n`)) await new Promise((r) => socket.once('drain', r))
    }
    const parse = (line: string | undefined): Record<string, unknown> | undefined => {
      try {
        const v = JSON.parse(line ?? '') as unknown
        return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined
      } catch {
        return undefined
      }
    }
    const request = parse(await nextLine())?.request
    if ((request as { kind?: unknown } | undefined)?.kind !== 'exec') {
      await write({ t: 'error', status: 400, message: 'the first line must be {"request": …} with an exec request' })
      socket.end()
      return
    }
    // Then {"t":"in","d":BASE64} lines, and {"t":"eof"} at stdin's end.
    async function* stdin(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const f = parse(await nextLine())
        if (f === undefined || f.t === 'eof') return
        if (f.t !== 'in' || typeof f.d !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(f.d)) throw new Error('a stdin line must be {"t":"in","d":BASE64} or {"t":"eof"}')
        yield Buffer.from(f.d, 'base64')
      }
    }
    try {
      await this.backend.operate(request, stdin(), write, gone.signal)
    } catch (err) {
      const status = (err as { status?: unknown }).status
      await write({ t: 'error', ...(typeof status === 'number' ? { status } : {}), message: (err as Error).message }).catch(() => undefined)
    }
    socket.end()
  }

  /**
   * operate serves `logs` and `exec`: the body is `{request, stdin?}` (a signed request, and
   * stdin in base64 for exec -i); the answer streams one JSON frame a line (each tagged with
   * its node) until every host is done. A client that goes away ends the streams.
   */
  private async operate(req: IncomingMessage, res: ServerResponse, kind: 'logs' | 'exec'): Promise<void> {
    const body = (await readJson(req, MAX_OPS_BODY_BYTES)) as { request?: unknown; stdin?: unknown } | null
    if (body === null || typeof body !== 'object' || (body.request as { kind?: unknown } | undefined)?.kind !== kind) throw new HttpError(400, `the body must be {request, stdin?} with a ${kind} request`)
    if (body.stdin !== undefined && (typeof body.stdin !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.stdin))) throw new HttpError(400, 'stdin: base64 text')
    const stdin = typeof body.stdin === 'string' ? Buffer.from(body.stdin, 'base64') : undefined
    const gone = new AbortController()
    res.on('close', () => gone.abort())
    let started = false
    const begin = (): void => {
      if (started) return
      started = true
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
    }
    try {
      await this.backend.operate(
        body.request,
        stdin,
        async (frame) => {
          if (gone.signal.aborted) throw new Error('the client went away')
          begin()
          if (!res.write(`${JSON.stringify(frame)}\n`)) await new Promise((r) => res.once('drain', r))
        },
        gone.signal,
      )
    } catch (err) {
      const status = (err as { status?: unknown }).status
      if (!started && typeof status === 'number') throw new HttpError(status, (err as Error).message)
      throw err
    }
    begin()
    res.end()
  }
}
