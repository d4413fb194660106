import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isLoopback, splitHostPort } from '../../../core/address.js'

describe('addresses', () => {
  it('loopback hosts: 127.0.0.0/8, ::1 (bracketed or not), localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopback(h), true, h)
    for (const h of ['10.0.0.1', '0.0.0.0', 'example.org', '[::2]', '128.0.0.1']) assert.equal(isLoopback(h), false, h)
  })

  it('HOST:PORT and [V6]:PORT; anything else gives an empty host or a NaN port', () => {
    assert.deepEqual(splitHostPort('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 })
    assert.deepEqual(splitHostPort('[::1]:9100'), { host: '::1', port: 9100 })
    assert.equal(splitHostPort('9464').host, '')
    assert.ok(Number.isNaN(splitHostPort('host:').port))
  })
})
