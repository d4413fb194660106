// The agent API client: HTTP over a unix socket, or over TCP with a bearer token: HTTPS to
// an agent whose certificate is pinned by its SHA-256 fingerprint (no CA: the agent made
// it), or plain HTTP to a loopback address. The CLI reaches agents only through this.

import { existsSync, readFileSync } from 'node:fs'
import type { RequestOptions } from 'node:http'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { isLoopback } from '../core/address.js'
import { CliError, UsageError } from './errors.js'
import { http, tls } from './node-http.js'

export interface AgentTarget {
  /** `unix:///PATH`, `https://HOST:PORT` or `http://LOOPBACK:PORT`. */
  address: string
  token?: string
  /** The SHA-256 fingerprint an https:// agent's certificate must have (`AB:CD:…`, upper case). */
  fingerprint?: string
}

/** normalFingerprint turns `sha256:abcd…`, `ab:cd:…` or `ABCD…` into `AB:CD:…`; undefined when it is not 32 bytes of hex. */
export function normalFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^sha256:/i, '').replace(/:/g, '').toUpperCase()
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined
  return hex.match(/../g)?.join(':')
}

/**
 * resolveAgent picks the agent: --agent, else $DAEMONMESH_AGENT, else ./.daemonmesh/agent.sock
 * if present, else /run/daemonmesh/agent.sock. The token comes from --token, --token-file,
 * $DAEMONMESH_TOKEN or $DAEMONMESH_TOKEN_FILE, in that order.
 */
export function resolveAgent(flag: string | undefined, tokenFlag: string | undefined, tokenFile?: string, fingerprintFlag?: string): AgentTarget {
  const file = tokenFile ?? (tokenFlag === undefined ? process.env.DAEMONMESH_TOKEN_FILE : undefined)
  let token = tokenFlag
  if (token === undefined && file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim()
    } catch (err) {
      throw new CliError(`--token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const local = resolve('.daemonmesh/agent.sock')
  const address = flag ?? process.env.DAEMONMESH_AGENT ?? (existsSync(local) ? `unix://${local}` : 'unix:///run/daemonmesh/agent.sock')
  if (!/^unix:\/\/.+/.test(address) && !/^https?:\/\/[^/]+(:[0-9]+)?\/?$/.test(address)) {
    throw new UsageError(`--agent ${address}: use unix:///PATH, https://HOST:PORT or http://127.0.0.1:PORT`)
  }
  if (address.startsWith('http://') && !isLoopback(URL.parse(address)?.hostname ?? '')) {
    throw new UsageError(`--agent ${address}: plaintext HTTP only to a loopback address (the token would cross the network in clear); use https://HOST:PORT with --fingerprint`)
  }
  const tok = token ?? process.env.DAEMONMESH_TOKEN
  const target: AgentTarget = tok === undefined ? { address } : { address, token: tok }
  if (!address.startsWith('https://')) return target
  const given = fingerprintFlag ?? process.env.DAEMONMESH_FINGERPRINT
  if (given === undefined) throw new UsageError(`--agent ${address}: pin the agent's certificate with --fingerprint (or $DAEMONMESH_FINGERPRINT); the agent logs it at start, and \`daemonmesh fingerprint --data-dir DIR\` prints it on its host`)
  const fingerprint = normalFingerprint(given)
  if (fingerprint === undefined) throw new UsageError(`--fingerprint ${given}: a SHA-256 fingerprint, 32 bytes of hex (AB:CD:…)`)
  return { ...target, fingerprint }
}

/** ApiError is thrown when the agent answers with an error status. */
export class ApiError extends CliError {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** call sends one request and returns the parsed JSON answer; throws CliError on any failure. */
export async function call<T>(target: AgentTarget, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  const headers: Record<string, string | number> = { accept: 'application/json' }
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = payload.length
  }
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`
  const where = await reach(target)
  return new Promise<T>((resolvePromise, reject) => {
    const req = http.request({ ...where, method, path, headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let data: unknown
        try {
          data = JSON.parse(text)
        } catch {
          data = undefined
        }
        const status = res.statusCode ?? 0
        if (status >= 400) {
          const msg = (data as { error?: string } | undefined)?.error ?? text
          reject(new ApiError(status, status === 401 ? `agent ${target.address}: ${msg} (set DAEMONMESH_TOKEN or --token)` : msg))
        } else resolvePromise(data as T)
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out after 15s')))
    req.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is the agent running? pick one with --agent)' : ''
      reject(new CliError(`cannot reach the agent at ${target.address}: ${e.code ?? e.message}${hint}`))
    })
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

/**
 * reach returns the request options that reach the agent: its unix socket, a loopback port,
 * or a TLS connection already open whose certificate has the pinned fingerprint (the
 * handshake and the pin check come first: not a byte of a request, nor the token, goes to a
 * certificate that does not match).
 *
 * Every request has a connection of its own: Node's default agent keeps connections alive,
 * and a request sent on one just as the agent's server closes it for idling (5 s) fails with
 * ECONNRESET, which a process polling agents (a script, `rollout status`) meets sooner or
 * later. So `agent: false` for a socket or a port (a connection to a local socket costs next
 * to nothing); the TLS connection is one of its own already, and is given without an agent
 * (with `agent: false` Node would open one of its own instead).
 */
export async function reach(target: AgentTarget): Promise<RequestOptions> {
  if (target.address.startsWith('unix://')) return { agent: false, socketPath: target.address.slice('unix://'.length) }
  const u = new URL(target.address)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  if (u.protocol !== 'https:') return { agent: false, host, port: Number(u.port || 80) }
  const socket = await pinnedSocket(host, Number(u.port || 443), target)
  return { createConnection: () => socket }
}

/** pinnedSocket opens a TLS connection and resolves once the agent's certificate has the pinned fingerprint; otherwise rejects and closes it. */
function pinnedSocket(host: string, port: number, target: AgentTarget): Promise<TLSSocket> {
  return new Promise((resolvePromise, reject) => {
    // No CA signs an agent's certificate: the pinned fingerprint is the whole check.
    const socket = tls().connect({ host, port, ...(isIP(host) === 0 ? { servername: host } : {}), rejectUnauthorized: false, minVersion: 'TLSv1.2' })
    const timer = setTimeout(() => socket.destroy(new Error('timed out after 15s')), 15_000)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const got = socket.getPeerCertificate().fingerprint256
      if (got === target.fingerprint) return resolvePromise(socket)
      socket.destroy()
      reject(new CliError(`agent ${target.address}: its certificate's fingerprint is ${got}, not the pinned ${target.fingerprint ?? ''}: refusing to talk to it`))
    })
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(new CliError(`cannot reach the agent at ${target.address}: ${e.code ?? e.message}`))
    })
  })
}
