import assert from 'node:assert/strict'
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import pino from 'pino'
import { loadOrCreateApiTls, selfSignedCertificate } from '../../../../agent/api/tls-cert.js'
import { loadOrCreateOperatorKey } from '../../../../agent/identity.js'
import { normalFingerprint } from '../../../../cli/client.js'
import { generateKeyPair } from '../../../../core/keys.js'
import { tempDir } from '../../../helpers/temp-dir.js'

const silent = pino({ level: 'silent' })

describe('the API certificate', () => {
  it('is self-signed by its key and valid for decades, with UTCTime before 2050 and GeneralizedTime after', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const now = new Date('2026-11-25T12:00:00Z')
    const x = new X509Certificate(selfSignedCertificate(privateKey, now))
    assert.equal(x.verify(x.publicKey), true)
    assert.equal(x.checkPrivateKey(privateKey), true)
    assert.equal(x.subject, 'CN=daemonmesh-agent')
    assert.equal(new Date(x.validFrom).toISOString(), '2026-11-25T11:00:00.000Z')
    assert.equal(new Date(x.validTo).toISOString(), '2056-11-25T12:00:00.000Z')
  })

  it('is made once, read again, made for a key left alone, and refused without its key', async () => {
    const dir = await tempDir('dm-sa-tls-')
    const first = await loadOrCreateApiTls(dir)
    assert.equal(first.created, true)
    const again = await loadOrCreateApiTls(dir)
    assert.equal(again.created, false)
    assert.equal(again.fingerprint, first.fingerprint)
    await rm(join(dir, 'api.crt'))
    const remade = await loadOrCreateApiTls(dir)
    assert.equal(remade.key, first.key, 'the key is kept')
    assert.equal(await readFile(join(dir, 'api.key'), 'utf8'), first.key)
    await rm(join(dir, 'api.key'))
    await assert.rejects(loadOrCreateApiTls(dir), /api\.crt exists without its key/)
  })

  it('fingerprints are accepted with or without colons, sha256: and case', () => {
    const want = 'AB:'.repeat(31) + 'AB'
    assert.equal(normalFingerprint('sha256:' + 'ab'.repeat(32)), want)
    assert.equal(normalFingerprint(want.toLowerCase()), want)
    assert.equal(normalFingerprint('AB'.repeat(31)), undefined)
  })
})

describe('the generated operator key', () => {
  it('a private key without its .pub is kept and its public half written', async () => {
    const dir = await tempDir('dm-sa-op-')
    const pair = generateKeyPair()
    await writeFile(join(dir, 'operator.key'), pair.privateKeyPem)
    const r = await loadOrCreateOperatorKey(join(dir, 'operator.key'), silent)
    assert.deepEqual(r, { id: pair.id, created: false })
    assert.equal(await readFile(join(dir, 'operator.key'), 'utf8'), pair.privateKeyPem)
    assert.equal((await loadOrCreateOperatorKey(join(dir, 'operator.key'), silent)).id, pair.id)
  })

  it('a .pub that is not the private key\'s is refused, and neither file is touched', async () => {
    const dir = await tempDir('dm-sa-op-')
    const a = generateKeyPair()
    const b = generateKeyPair()
    await writeFile(join(dir, 'operator.key'), a.privateKeyPem)
    await writeFile(join(dir, 'operator.key.pub'), b.publicKeyPem)
    await assert.rejects(loadOrCreateOperatorKey(join(dir, 'operator.key'), silent), /is not the public key of/)
    assert.equal(await readFile(join(dir, 'operator.key.pub'), 'utf8'), b.publicKeyPem)
  })

  it('nothing there: a pair is made once', async () => {
    const dir = await tempDir('dm-sa-op-')
    const made = await loadOrCreateOperatorKey(join(dir, 'operator.key'), silent)
    assert.equal(made.created, true)
    const again = await loadOrCreateOperatorKey(join(dir, 'operator.key'), silent)
    assert.deepEqual(again, { id: made.id, created: false })
    assert.equal(createPrivateKey(await readFile(join(dir, 'operator.key'), 'utf8')).type, 'private')
  })
})
