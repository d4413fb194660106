import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseReadinessCheck, readinessCheckOf } from '../../../core/probe.js'
import type { Container } from '../../../core/types.js'

const containers: Container[] = [{ name: 'web', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }]
const path = 'spec.template.spec.containers[0].readinessProbe'

describe('readiness checks', () => {
  it('an exec probe takes Kubernetes defaults', () => {
    assert.deepEqual(readinessCheckOf({ exec: { command: ['cat', '/ready'] } }, containers, path).check, {
      exec: ['cat', '/ready'], initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3,
    })
  })

  it('an httpGet probe resolves a named port and defaults the path and scheme', () => {
    const { check } = readinessCheckOf({ httpGet: { port: 'http' }, periodSeconds: 2 }, containers, path)
    assert.deepEqual(check?.http, { scheme: 'http', port: 8080, path: '/' })
    assert.equal(check?.periodSeconds, 2)
  })

  it('a tcpSocket probe keeps a numeric port', () => {
    assert.deepEqual(readinessCheckOf({ tcpSocket: { port: 53 } }, containers, path).check?.tcp, { port: 53 })
  })

  it('an unknown port name is reported with its path', () => {
    const r = readinessCheckOf({ tcpSocket: { port: 'dns' } }, containers, path)
    assert.equal(r.check, undefined)
    assert.deepEqual(r.issues, [{ path: `${path}.tcpSocket.port`, message: 'no container port named "dns"' }])
  })

  it('a probe with no handler (grpc) is reported', () => {
    assert.match(readinessCheckOf({ periodSeconds: 1 }, containers, path).issues[0]?.message ?? '', /grpc is not supported/)
  })

  it('a check survives its label round trip; a malformed label is no check', () => {
    const { check } = readinessCheckOf({ exec: { command: ['true'] } }, containers, path)
    assert.deepEqual(parseReadinessCheck(JSON.stringify(check)), check)
    assert.equal(parseReadinessCheck('{"exec": 1}'), undefined)
    assert.equal(parseReadinessCheck('not json'), undefined)
  })
})
