// Running one probe or hook handler against a pod, as the kubelet does: an exec in the
// container (through the runtime), an HTTP GET (2xx/3xx passes; headers sent as given), a
// TCP connect, or a gRPC health check (grpc.health.v1.Health/Check over HTTP/2: SERVING
// passes). Each rejects with why it failed; none outlives its timeout. node:https and
// node:http2 are loaded by the first probe that needs them: an agent whose pods use neither
// does not carry them (about 3 and 4 MB of memory).

import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import type { ProbeCheck } from '../../core/probe.js'
import type { ContainerRuntime } from '../runtime/runtime.js'

/** Handler is the action part of a probe or a hook. */
export type Handler = Pick<ProbeCheck, 'exec' | 'http' | 'tcp' | 'grpc'>

async function httpGet(url: URL, headers: readonly { name: string; value: string }[], timeoutMs: number): Promise<number> {
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { 'user-agent': 'daemonmesh-probe' }
    for (const x of headers) h[x.name.toLowerCase() === 'host' ? 'host' : x.name] = x.value
    const req = request(url, { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false, headers: h }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: timeoutMs })
    s.on('connect', () => {
      s.destroy()
      resolve()
    })
    s.on('timeout', () => s.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    s.on('error', reject)
  })
}

/** grpcRequest is a length-prefixed HealthCheckRequest: field 1 (service), a string. */
export function grpcHealthRequest(service: string): Buffer {
  const name = Buffer.from(service)
  const msg = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name])
  const head = Buffer.alloc(5)
  head.writeUInt32BE(msg.length, 1)
  return Buffer.concat([head, msg])
}

function varint(n: number): Buffer {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
  return Buffer.from(out)
}

/** grpcHealthStatus reads the status (field 1, an enum) of a length-prefixed HealthCheckResponse; 0 (UNKNOWN) when absent. */
export function grpcHealthStatus(body: Buffer): number {
  if (body.length < 5) throw new Error('gRPC response too short')
  const len = body.readUInt32BE(1)
  const msg = body.subarray(5, 5 + len)
  let i = 0
  while (i < msg.length) {
    const tag = msg[i++] ?? 0
    let value = 0
    let shift = 0
    for (;;) {
      const b = msg[i++]
      if (b === undefined) throw new Error('gRPC response truncated')
      value |= (b & 0x7f) << shift
      shift += 7
      if ((b & 0x80) === 0 || shift > 28) break
    }
    if (tag === 0x08) return value
    if ((tag & 7) !== 0) throw new Error('unexpected field in gRPC health response')
  }
  return 0
}

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']

/** grpcCheck runs grpc.health.v1.Health/Check against host:port (plaintext, as the kubelet). */
export async function grpcCheck(host: string, port: number, service: string, timeoutMs: number): Promise<void> {
  const { connect: http2Connect } = await import('node:http2')
  return new Promise((resolve, reject) => {
    const authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    const session = http2Connect(authority)
    const timer = setTimeout(() => {
      session.destroy()
      reject(new Error(`timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      session.close()
      if (err === undefined) resolve()
      else reject(err)
    }
    session.on('error', (err) => finish(err))
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'daemonmesh-probe' })
    const chunks: Buffer[] = []
    let grpcStatus: string | undefined
    let grpcMessage = ''
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status'])
      if (h['grpc-message'] !== undefined) grpcMessage = String(h['grpc-message'])
    })
    req.on('trailers', (t) => {
      grpcStatus = String(t['grpc-status'] ?? grpcStatus ?? '')
      grpcMessage = String(t['grpc-message'] ?? grpcMessage)
    })
    req.on('data', (d: Buffer) => {
      if (chunks.reduce((a, c) => a + c.length, 0) < 64 * 1024) chunks.push(d)
    })
    req.on('error', (err) => finish(err))
    req.on('end', () => {
      if (grpcStatus !== '0') return finish(new Error(`gRPC health check failed: status ${grpcStatus ?? 'missing'}${grpcMessage === '' ? '' : `: ${grpcMessage}`}`))
      try {
        const s = grpcHealthStatus(Buffer.concat(chunks))
        finish(s === 1 ? undefined : new Error(`service unhealthy (responded with "${SERVING_STATUS[s] ?? s}")`))
      } catch (err) {
        finish(err as Error)
      }
    })
    req.end(grpcHealthRequest(service))
  })
}

/**
 * runHandler runs one handler for container `name` (pod network owner `owner`) within
 * timeoutMs; rejects with why it failed.
 */
export async function runHandler(runtime: Pick<ContainerRuntime, 'exec' | 'address'>, name: string, owner: string, h: Handler, timeoutMs: number): Promise<void> {
  if (h.exec !== undefined) {
    const code = await runtime.exec(name, h.exec, timeoutMs)
    if (code !== 0) throw new Error(`command ${JSON.stringify(h.exec.join(' ')).slice(0, 200)} exited with ${code}`)
    return
  }
  const host = h.http?.host ?? h.tcp?.host ?? (await runtime.address(owner))
  if (host === undefined) throw new Error('the pod has no address')
  if (h.http !== undefined) {
    const url = new URL(`${h.http.scheme}://${host.includes(':') ? `[${host}]` : host}:${h.http.port}`)
    url.pathname = h.http.path
    const status = await httpGet(url, h.http.headers ?? [], timeoutMs)
    if (status < 200 || status >= 400) throw new Error(`HTTP probe failed with statuscode: ${status}`)
  } else if (h.tcp !== undefined) {
    await tcpConnect(host, h.tcp.port, timeoutMs)
  } else if (h.grpc !== undefined) {
    await grpcCheck(host, h.grpc.port, h.grpc.service ?? '', timeoutMs)
  }
}
