// Streamed API answers (`logs`, `exec`): one POST whose answer is one JSON frame a line,
// read as it arrives, for as long as the agent streams (no overall timeout: `logs -f` runs
// until interrupted). An error status before the stream is an ApiError, as call's.

import { ApiError, reach, type AgentTarget } from './client.js'
import { CliError } from './errors.js'
import { http } from './node-http.js'

/** Largest line the CLI accepts from the agent (a frame is at most ~45 KiB). */
const MAX_LINE_BYTES = 1024 * 1024

/** streamCall POSTs `body` to `path` and hands each answered frame to `onFrame`, until the answer ends. */
export async function streamCall(target: AgentTarget, path: string, body: unknown, onFrame: (frame: Record<string, unknown>) => void): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body))
  const headers: Record<string, string | number> = { accept: 'application/x-ndjson', 'content-type': 'application/json', 'content-length': payload.length }
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`
  const where = await reach(target)
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ ...where, method: 'POST', path, headers }, (res) => {
      const status = res.statusCode ?? 0
      let pending = ''
      if (status >= 400) {
        res.on('data', (c: Buffer) => (pending += c.toString('utf8')))
        res.on('end', () => {
          let msg = pending
          try {
            msg = (JSON.parse(pending) as { error?: string }).error ?? pending
          } catch {
            // not JSON: the text as it is
          }
          reject(new ApiError(status, status === 401 ? `agent ${target.address}: ${msg} (set DAEMONMESH_TOKEN or --token)` : msg))
        })
        return
      }
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        pending += c
        let nl: number
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl)
          pending = pending.slice(nl + 1)
          if (line.trim() === '') continue
          try {
            onFrame(JSON.parse(line) as Record<string, unknown>)
          } catch (err) {
            req.destroy(err as Error)
          }
        }
        if (pending.length > MAX_LINE_BYTES) req.destroy(new Error('the agent sent an oversized frame'))
      })
      res.on('end', () => resolve())
      res.on('error', reject)
    })
    req.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is the agent running? pick one with --agent)' : ''
      reject(e.code === undefined ? e : new CliError(`cannot reach the agent at ${target.address}: ${e.code}${hint}`))
    })
    req.end(payload)
  })
}

/** The upgrade an interactive exec asks the agent for (agent/api/server.ts EXEC_UPGRADE). */
const EXEC_UPGRADE = 'daemonmesh-exec/1'

/**
 * sessionCall opens an interactive exec: an HTTP upgrade of POST `path`, then `first` as
 * one JSON line and `stdin` as it arrives, in JSON lines too (`{"t":"in","d":BASE64}`, then
 * `{"t":"eof"}`), while each frame the agent sends goes to `onFrame`, until the agent ends
 * the session.
 */
export async function sessionCall(target: AgentTarget, path: string, first: unknown, stdin: NodeJS.ReadableStream, onFrame: (frame: Record<string, unknown>) => void): Promise<void> {
  const headers: Record<string, string> = { connection: 'Upgrade', upgrade: EXEC_UPGRADE }
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`
  const where = await reach(target)
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ ...where, method: 'POST', path, headers })
    req.on('response', (res) => {
      let text = ''
      res.on('data', (c: Buffer) => (text += c.toString('utf8')))
      res.on('end', () => reject(new ApiError(res.statusCode ?? 0, text === '' ? `the agent refused the session (${res.statusCode ?? 0})` : text)))
    })
    req.on('upgrade', (_res, socket, head) => {
      socket.write(`${JSON.stringify(first)}\n`)
      // Stdin in-band, its end too: the connection stays open until the agent ends it.
      stdin.on('data', (c: Buffer) => socket.write(`${JSON.stringify({ t: 'in', d: c.toString('base64') })}\n`))
      stdin.once('end', () => socket.write('{"t":"eof"}\n'))
      let pending = head.toString('utf8')
      const lines = (): void => {
        let nl: number
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl)
          pending = pending.slice(nl + 1)
          if (line.trim() !== '') onFrame(JSON.parse(line) as Record<string, unknown>)
        }
        if (pending.length > MAX_LINE_BYTES) socket.destroy(new Error('the agent sent an oversized frame'))
      }
      lines()
      socket.on('data', (c: Buffer) => {
        pending += c.toString('utf8')
        lines()
      })
      socket.on('close', () => {
        stdin.removeAllListeners('data')
        resolve()
      })
      socket.on('error', reject)
    })
    req.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is the agent running? pick one with --agent)' : ''
      reject(e.code === undefined ? e : new CliError(`cannot reach the agent at ${target.address}: ${e.code}${hint}`))
    })
    req.end()
  })
}
