import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hooksOf, parseHooks, parseProbeCheck, parseReadinessCheck, probeCheckOf, readinessCheckOf } from '../../../core/probe.js'
import type { Container, Probe } from '../../../core/types.js'

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

  it('a probe with no handler is reported', () => {
    assert.match(readinessCheckOf({ periodSeconds: 1 }, containers, path).issues[0]?.message ?? '', /needs exec, httpGet, tcpSocket or grpc/)
  })

  it('a check survives its label round trip; a malformed label is no check', () => {
    const { check } = readinessCheckOf({ exec: { command: ['true'] } }, containers, path)
    assert.deepEqual(parseReadinessCheck(JSON.stringify(check)), check)
    assert.equal(parseReadinessCheck('{"exec": 1}'), undefined)
    assert.equal(parseReadinessCheck('not json'), undefined)
  })
})

describe('liveness and startup probes, hooks', () => {
  const lpath = 'spec.template.spec.containers[0].livenessProbe'
  it('a grpc probe keeps its port and service', () => {
    assert.deepEqual(probeCheckOf({ grpc: { port: 9090, service: 'ready' }, failureThreshold: 1 } as Probe, containers, lpath, 'liveness').check, {
      grpc: { port: 9090, service: 'ready' }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1,
    })
  })

  it('httpGet headers are carried', () => {
    const { check } = probeCheckOf({ httpGet: { port: 8080, path: '/healthz', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] } }, containers, lpath, 'liveness')
    assert.deepEqual(check?.http, { scheme: 'http', port: 8080, path: '/healthz', headers: [{ name: 'X-Probe', value: 'yes' }] })
  })

  it('a liveness or startup probe must have successThreshold 1; readiness may have more', () => {
    assert.deepEqual(probeCheckOf({ exec: { command: ['true'] }, successThreshold: 2 }, containers, lpath, 'liveness').issues, [{ path: `${lpath}.successThreshold`, message: 'Invalid value: 2: must be 1' }])
    assert.equal(probeCheckOf({ exec: { command: ['true'] }, successThreshold: 2 }, containers, path, 'readiness').check?.successThreshold, 2)
  })

  it('a grpc probe without a port is reported with its path', () => {
    assert.equal(probeCheckOf({ grpc: { service: 'x' } } as Probe, containers, lpath, 'liveness').issues[0]?.path, `${lpath}.grpc`)
  })

  it('hooks: exec and httpGet normalised, a check travels through its label', () => {
    const r = hooksOf({ postStart: { exec: { command: ['touch', '/x'] } }, preStop: { httpGet: { port: 'http', path: '/quit' } } }, containers, 'l')
    assert.deepEqual(r.hooks, { postStart: { exec: ['touch', '/x'] }, preStop: { http: { scheme: 'http', port: 8080, path: '/quit' } } })
    assert.deepEqual(parseHooks(JSON.stringify(r.hooks)), r.hooks)
    assert.equal(parseHooks('{"preStop":{"exec":[]}}'), undefined)
    assert.equal(parseHooks('not json'), undefined)
  })

  it('hooks: sleep and tcpSocket are reported, an unknown hook too', () => {
    assert.deepEqual(hooksOf({ preStop: { sleep: { seconds: 5 } } }, containers, 'l').issues, [{ path: 'l.preStop', message: 'needs exec or httpGet (tcpSocket and sleep are not supported)' }])
    assert.deepEqual(hooksOf({ stopSignal: 'SIGINT' }, containers, 'l').issues, [{ path: 'l.stopSignal', message: 'not supported (ignored)' }])
    assert.deepEqual(hooksOf(undefined, containers, 'l'), { issues: [] })
  })

  it('a label with an oversized or malformed check is ignored', () => {
    assert.equal(parseProbeCheck('{"exec":["true"]}'), undefined)
    assert.equal(parseProbeCheck('x'.repeat(70_000)), undefined)
  })
})
