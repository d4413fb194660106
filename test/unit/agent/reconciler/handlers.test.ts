// The gRPC health check against a node:http2 server speaking grpc.health.v1 (a real HTTP/2
// server on the loopback), and its framing on plain bytes.

import assert from 'node:assert/strict'
import { createServer, type Http2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { grpcCheck, grpcHealthRequest, grpcHealthStatus } from '../../../../agent/reconciler/handlers.js'

/** frame wraps a HealthCheckResponse with status `s` (field 1, varint). */
const frame = (s: number): Buffer => Buffer.from([0, 0, 0, 0, 2, 0x08, s])

describe('gRPC health checks', () => {
  let server: Http2Server
  let port = 0
  const seen: string[] = []

  before(async () => {
    server = createServer()
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = []
      stream.on('data', (d: Buffer) => chunks.push(d))
      stream.on('end', () => {
        const body = Buffer.concat(chunks)
        const service = body.subarray(7).toString()
        seen.push(`${String(headers[':path'])} ${service}`)
        if (service === 'missing') {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown service' }, { endStream: true })
          return
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
        stream.end(frame(service === 'down' ? 2 : 1))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  after(() => server.close())

  it('SERVING passes; NOT_SERVING and an error status fail with why', async () => {
    await grpcCheck('127.0.0.1', port, '', 2000)
    await assert.rejects(grpcCheck('127.0.0.1', port, 'down', 2000), /service unhealthy \(responded with "NOT_SERVING"\)/)
    await assert.rejects(grpcCheck('127.0.0.1', port, 'missing', 2000), /status 5: unknown service/)
    assert.deepEqual(seen, ['/grpc.health.v1.Health/Check ', '/grpc.health.v1.Health/Check down', '/grpc.health.v1.Health/Check missing'])
  })

  it('nothing listening fails', async () => {
    await assert.rejects(grpcCheck('127.0.0.1', 1, '', 1000))
  })

  it('framing: the request carries the service, the response its status', () => {
    assert.deepEqual([...grpcHealthRequest('')], [0, 0, 0, 0, 0])
    assert.deepEqual([...grpcHealthRequest('ab')], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62])
    assert.equal(grpcHealthStatus(frame(1)), 1)
    assert.equal(grpcHealthStatus(Buffer.from([0, 0, 0, 0, 0])), 0)
    assert.throws(() => grpcHealthStatus(Buffer.from([0, 0])), /too short/)
  })
})
