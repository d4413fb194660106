import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { buildDockerRegistry, buildGeneric } from '../../../cli/commands/create-secret.js'
import { pullAuthFor } from '../../../core/registry-auth.js'
import { tempDir } from '../../helpers/temp-dir.js'

describe('create secret', () => {
  it('generic builds what kubectl builds from literals and files, Opaque unless --type', async () => {
    const dir = await tempDir('sc-cs-')
    await writeFile(join(dir, 'tls.crt'), 'CERT')
    await writeFile(join(dir, 'key.pem'), Buffer.from([0, 255, 1]))
    const s = await buildGeneric('web', { namespace: 'edge', fromLiteral: ['user=admin'], fromFile: [join(dir, 'tls.crt'), `tls.key=${join(dir, 'key.pem')}`], type: 'kubernetes.io/tls' })
    assert.deepEqual(s.metadata, { name: 'web', namespace: 'edge' })
    assert.equal(s.type, 'kubernetes.io/tls')
    assert.deepEqual([...s.data].map(([k, v]) => [k, v.toString('hex')]), [['user', Buffer.from('admin').toString('hex')], ['tls.crt', Buffer.from('CERT').toString('hex')], ['tls.key', '00ff01']])
    await assert.rejects(buildGeneric('web', { fromLiteral: ['a=1'], type: 'kubernetes.io/tls' }), /Required value: a kubernetes.io\/tls Secret has key tls.crt/)
  })

  it('docker-registry builds a .dockerconfigjson whose credentials reach a pull from that registry', () => {
    const s = buildDockerRegistry('regcred', { dockerServer: '127.0.0.1:5000', dockerUsername: 'ci', dockerPassword: 'pw', dockerEmail: 'ci@example.com' })
    assert.equal(s.type, 'kubernetes.io/dockerconfigjson')
    const json = s.data.get('.dockerconfigjson') as Buffer
    assert.deepEqual(JSON.parse(json.toString()), { auths: { '127.0.0.1:5000': { username: 'ci', password: 'pw', email: 'ci@example.com', auth: Buffer.from('ci:pw').toString('base64') } } })
    assert.deepEqual(pullAuthFor('127.0.0.1:5000/app:1', [json]), { serveraddress: '127.0.0.1:5000', username: 'ci', password: 'pw', email: 'ci@example.com' })
    assert.throws(() => buildDockerRegistry('r', { dockerPassword: 'pw' }), /--docker-username is required/)
  })
})
