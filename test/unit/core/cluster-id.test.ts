import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { checkClusterId, checkEnvelope, signEnvelope } from '../../../core/envelope.js'

const key = generateKeyPairSync('ed25519').privateKey
const ts = { wall: 1_800_000_000_000, logical: 0 }
const unbound = signEnvelope('ds/default/web', { a: 1 }, ts, key)
const prod = signEnvelope('ds/default/web', { a: 1 }, ts, key, undefined, 'prod')
const staging = signEnvelope('ds/default/web', { a: 1 }, ts, key, undefined, 'staging')

describe('cluster id in signatures', () => {
  it('a bound envelope has the same fields as an unbound one (agents of 0.1.0 parse it), only its signature differs', () => {
    assert.deepEqual(Object.keys(prod).sort(), Object.keys(unbound).sort())
    assert.notEqual(prod.sig, unbound.sig)
  })

  it('without a cluster id only unbound envelopes verify (as in 0.1.0)', () => {
    assert.deepEqual(checkEnvelope(unbound), unbound)
    assert.throws(() => checkEnvelope(prod), /bad signature on ds\/default\/web$/)
  })

  it('with a cluster id: bound to it, taken; bound to another, refused; unbound, taken until required', () => {
    const binding = { id: 'prod', requireBound: false }
    assert.deepEqual(checkEnvelope(prod, binding), prod)
    assert.throws(() => checkEnvelope(staging, binding), /bad signature on ds\/default\/web \(or signed for another cluster than prod\)/)
    assert.deepEqual(checkEnvelope(unbound, binding), unbound)
    assert.throws(() => checkEnvelope(unbound, { id: 'prod', requireBound: true }), /not bound to a cluster id \(this agent requires prod\)/)
    assert.deepEqual(checkEnvelope(prod, { id: 'prod', requireBound: true }), prod)
  })

  it('cluster ids are short DNS-like labels', () => {
    for (const ok of ['prod', 'eu-1', '0a']) assert.equal(checkClusterId(ok), undefined)
    for (const bad of ['', 'Prod', '-a', 'a b', 'a'.repeat(64), 'a\nb']) assert.ok(checkClusterId(bad), bad)
  })
})
