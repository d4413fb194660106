import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { checkOpsRequest, MAX_CLOCK_SKEW_MS, MAX_REQUEST_LIFETIME_MS, NonceBook, OpsRequestError, signOpsRequest, type OpsRefusal, type UnsignedOpsRequest } from '../../../core/ops-request.js'

const operator = generateKeyPair()
const stranger = generateKeyPair()
const key = parsePrivateKey(operator.privateKeyPem)
const trusts = (a: string): boolean => a === operator.id
const T = 1_700_000_000_000

const exec: UnsignedOpsRequest = { kind: 'exec', ds: 'default/fluentd', node: 'edge-1', exec: { command: ['sh', '-c', 'exit 3'], stdin: false, tty: false } }
const logs: UnsignedOpsRequest = { kind: 'logs', ds: 'logging/fluentd', node: '*', logs: { follow: true, previous: false, timestamps: false, tail: 10 } }

const refusal = (fn: () => unknown): OpsRefusal | undefined => {
  try {
    fn()
    return undefined
  } catch (err) {
    assert.ok(err instanceof OpsRequestError, String(err))
    return err.reason
  }
}

describe('signed operations requests', () => {
  it('a request signed by a trusted key is accepted within its lifetime', () => {
    const r = signOpsRequest(exec, key, T)
    assert.equal(r.expiresAt - r.issuedAt, MAX_REQUEST_LIFETIME_MS)
    assert.deepEqual(checkOpsRequest(JSON.parse(JSON.stringify(r)), T + 1000, trusts).exec?.command, ['sh', '-c', 'exit 3'])
    assert.equal(checkOpsRequest(signOpsRequest(logs, key, T), T, trusts).node, '*')
  })

  const cases: [string, () => unknown, OpsRefusal][] = [
    ['signed by a key the target does not trust', () => checkOpsRequest(signOpsRequest(exec, parsePrivateKey(stranger.privateKeyPem), T), T, trusts), 'untrusted'],
    ['a field changed after signing (the command)', () => checkOpsRequest({ ...signOpsRequest(exec, key, T), exec: { command: ['rm', '-rf', '/'], stdin: false, tty: false } }, T, trusts), 'signature'],
    ['a field changed after signing (the node)', () => checkOpsRequest({ ...signOpsRequest(exec, key, T), node: 'edge-2' }, T, trusts), 'signature'],
    ['a longer life claimed after signing', () => checkOpsRequest({ ...signOpsRequest(exec, key, T), expiresAt: T + 30_000 }, T, trusts), 'signature'],
    ['expired', () => checkOpsRequest(signOpsRequest(exec, key, T), T + MAX_REQUEST_LIFETIME_MS, trusts), 'expired'],
    ['issued further ahead than the skew allows', () => checkOpsRequest(signOpsRequest(exec, key, T + MAX_CLOCK_SKEW_MS + 1), T, trusts), 'future'],
    ['living longer than the limit', () => checkOpsRequest({ ...signOpsRequest(exec, key, T), expiresAt: T + MAX_REQUEST_LIFETIME_MS + 1 }, T, trusts), 'lifetime'],
    ['exec on every node', () => checkOpsRequest(signOpsRequest({ ...exec, node: '*' }, key, T), T, trusts), 'malformed'],
    ['exec without a command', () => checkOpsRequest(signOpsRequest({ ...exec, exec: { command: [], stdin: false, tty: false } }, key, T), T, trusts), 'malformed'],
    ['a command over 64 KiB in all', () => checkOpsRequest(signOpsRequest({ ...exec, exec: { command: Array.from({ length: 20 }, () => 'x'.repeat(4000)), stdin: false, tty: false } }, key, T), T, trusts), 'malformed'],
    ['logs carrying exec parameters', () => checkOpsRequest(signOpsRequest({ ...logs, exec: exec.exec } as UnsignedOpsRequest, key, T), T, trusts), 'malformed'],
    ['a DaemonSet not in NAMESPACE/NAME form', () => checkOpsRequest(signOpsRequest({ ...logs, ds: 'fluentd' }, key, T), T, trusts), 'malformed'],
    ['an unknown field', () => checkOpsRequest({ ...signOpsRequest(logs, key, T), extra: 1 }, T, trusts), 'malformed'],
    ['a tail beyond the bound', () => checkOpsRequest(signOpsRequest({ ...logs, logs: { follow: false, previous: false, timestamps: false, tail: 1e9 } }, key, T), T, trusts), 'malformed'],
    ['not an object', () => checkOpsRequest('exec', T, trusts), 'malformed'],
  ]
  for (const [name, fn, want] of cases) it(`refused: ${name}`, () => assert.equal(refusal(fn), want))

  it('a nonce is used once, and forgotten only after its request expired', () => {
    const book = new NonceBook(2)
    const a = signOpsRequest(exec, key, T)
    book.use(a, T)
    assert.equal(refusal(() => book.use(a, T + 1000)), 'replayed')
    book.use(signOpsRequest(exec, key, T), T)
    assert.equal(refusal(() => book.use(signOpsRequest(exec, key, T), T + 1000)), 'busy')
    // Both expired: room again, and the first nonce is forgotten (its request is refused as expired anyway).
    book.use(signOpsRequest(exec, key, T), T + MAX_REQUEST_LIFETIME_MS)
    assert.equal(book.size, 1)
  })
})
