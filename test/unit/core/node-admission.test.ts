import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { keyId } from '../../../core/keys.js'
import { checkJoin, globMatches, judgeNode, signJoinToken } from '../../../core/node-admission.js'

const op = generateKeyPairSync('ed25519').privateKey
const other = generateKeyPairSync('ed25519').privateKey
const OP = keyId(op)
const trusted = (a: string): boolean => a === OP
const NODE = 'N'.repeat(43)
const ROGUE = 'R'.repeat(43)
const T0 = 1_800_000_000_000

describe('join tokens', () => {
  const token = signJoinToken({ id: 'abcdefghijklmnop', names: 'edge-*', uses: 2, issuedAt: T0, ttlMs: 3_600_000 }, op)

  it('a host that joined in time under a matching name is admitted', () => {
    assert.equal(checkJoin({ token, joinedAt: T0 + 1000 }, 'edge-7', trusted, T0 + 10 * 3_600_000), undefined)
  })

  it('is refused for another name, after it expired, from the future, from an untrusted key, or altered', () => {
    assert.match(checkJoin({ token, joinedAt: T0 + 1000 }, 'web-1', trusted, T0 + 2000) ?? '', /not for the name web-1/)
    assert.equal(checkJoin({ token, joinedAt: T0 + 3_600_001 }, 'edge-1', trusted, T0 + 3_600_002), 'join token expired')
    assert.equal(checkJoin({ token, joinedAt: T0 + 1000 }, 'edge-1', trusted, T0 - 3_600_000), 'join time in the future')
    assert.match(checkJoin({ token: signJoinToken({ id: 'abcdefghijklmnop', issuedAt: T0, ttlMs: 1000 }, other), joinedAt: T0 }, 'edge-1', trusted, T0) ?? '', /not trusted/)
    assert.equal(checkJoin({ token: { ...token, uses: 1000 }, joinedAt: T0 + 1 }, 'edge-1', trusted, T0 + 2), 'bad join token signature')
    assert.equal(checkJoin({ token: { ...token, extra: 1 }, joinedAt: T0 }, 'edge-1', trusted, T0), 'malformed join token')
  })

  it('globs match whole names, * any run of name characters', () => {
    assert.equal(globMatches('edge-*', 'edge-'), true)
    assert.equal(globMatches('edge-*', 'edge-1.shop'), true)
    assert.equal(globMatches('edge-*', 'xedge-1'), false)
    assert.equal(globMatches('a.b', 'axb'), false)
  })
})

describe('judgeNode', () => {
  const base = { open: false, name: 'edge-1', key: NODE, entry: undefined, deleted: false, token: undefined }
  it('open admission admits everyone', () => assert.deepEqual(judgeNode({ ...base, open: true, deleted: true }), { state: 'admitted', by: 'open' }))
  it('an operator entry for the name and key admits, even a key deleted before', () => assert.deepEqual(judgeNode({ ...base, entry: { op: 'put', value: { keyId: NODE } }, deleted: true }), { state: 'admitted', by: 'operator' }))
  it('a deleted key stays out, token or not', () => assert.deepEqual(judgeNode({ ...base, deleted: true, token: 'ok' }), { state: 'deleted' }))
  it('a name admitted for another key leaves this one pending, token or not', () => assert.equal(judgeNode({ ...base, entry: { op: 'put', value: { keyId: ROGUE } }, token: 'ok' }).state, 'pending'))
  it('a valid token admits', () => assert.deepEqual(judgeNode({ ...base, token: 'ok' }), { state: 'admitted', by: 'token' }))
  it('otherwise pending, saying why', () => assert.deepEqual(judgeNode({ ...base, token: 'join token expired' }), { state: 'pending', why: 'join token expired' }))
})
