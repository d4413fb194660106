// The agent API client: HTTP over a unix socket or TCP (with a bearer token). The CLI
// reaches agents only through this.

import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { resolve } from 'node:path'
import { CliError, UsageError } from './errors.js'

export interface AgentTarget {
  /** `unix:///PATH` or `http://HOST:PORT`. */
  address: string
  token?: string
}

/**
 * resolveAgent picks the agent: --agent, else $DAEMONMESH_AGENT, else ./.daemonmesh/agent.sock
 * if present, else /run/daemonmesh/agent.sock. The token comes from --token, --token-file,
 * $DAEMONMESH_TOKEN or $DAEMONMESH_TOKEN_FILE, in that order.
 */
export function resolveAgent(flag: string | undefined, tokenFlag: string | undefined, tokenFile?: string): AgentTarget {
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
  if (!/^unix:\/\/.+/.test(address) && !/^http:\/\/[^/]+(:[0-9]+)?\/?$/.test(address)) {
    throw new UsageError(`--agent ${address}: use unix:///PATH or http://HOST:PORT`)
  }
  const tok = token ?? process.env.DAEMONMESH_TOKEN
  return tok === undefined ? { address } : { address, token: tok }
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
  const where = target.address.startsWith('unix://') ? { socketPath: target.address.slice('unix://'.length) } : (() => {
    const u = new URL(target.address)
    return { host: u.hostname, port: Number(u.port || 80) }
  })()
  return new Promise<T>((resolvePromise, reject) => {
    const req = request({ ...where, method, path, headers, timeout: 15_000 }, (res) => {
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
