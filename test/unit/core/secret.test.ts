import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkStoreValue } from '../../../core/admission.js'
import { podPlan } from '../../../core/container-spec.js'
import { pullAuthFor, registryOf } from '../../../core/registry-auth.js'
import { SecretKeyError, generateSecretKey, parseSecretKey } from '../../../core/secret-box.js'
import { openSecret, parseSecretManifest, sealSecret, secretsUsedBy, type PlainSecret, type Secret } from '../../../core/secret.js'
import { MEMORY_DIR, storeObjects } from '../../../core/volumes.js'
import { ds, node } from '../../helpers/fixtures.js'

const key = parseSecretKey(generateSecretKey())
const other = parseSecretKey(generateSecretKey())
const plain = (name: string, data: Record<string, string>, type = 'Opaque'): PlainSecret => {
  const r = parseSecretManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type, stringData: data })
  assert.deepEqual(r.errors, [])
  return r.secret as PlainSecret
}
const sealed = (p: PlainSecret, k = key): Secret => sealSecret(p, k).secret as Secret
const store = (...secrets: Secret[]) => (k: string) => {
  const s = secrets.find((x) => `secret/${x.metadata.namespace}/${x.metadata.name}` === k)
  return s === undefined ? undefined : { op: 'put', value: s }
}

describe('Secrets', () => {
  it('parseSecretManifest decodes data, and stringData replaces the same key of data', () => {
    const r = parseSecretManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { a: Buffer.from('from-data').toString('base64'), b: 'Yg==' }, stringData: { a: 'from-stringData' } })
    assert.equal(r.secret?.type, 'Opaque')
    assert.equal(r.secret?.data.get('a')?.toString(), 'from-stringData')
    assert.equal(r.secret?.data.get('b')?.toString(), 'b')
  })

  it('parseSecretManifest refuses data that is not base64 and a dockerconfigjson Secret without a valid .dockerconfigjson, quoting no value', () => {
    const r = parseSecretManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'kubernetes.io/dockerconfigjson', data: { x: 'not base64 s3cret' } })
    assert.deepEqual(r.errors.map((e) => e.path), ['data.x', 'data[".dockerconfigjson"]'])
    assert.ok(r.errors.every((e) => !e.message.includes('s3cret')))
    const j = parseSecretManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{"nope": 1}' } })
    assert.match(j.errors[0]?.message ?? '', /"auths" object/)
  })

  it('a sealed Secret holds no plaintext, opens with its key and name only, and says which key sealed it', () => {
    const s = sealed(plain('db', { password: 'hunter2-plaintext' }))
    assert.ok(!JSON.stringify(s).includes('hunter2'))
    assert.deepEqual(s.sizes, { password: 17 })
    assert.equal(openSecret(s, key).get('password')?.toString(), 'hunter2-plaintext')
    assert.throws(() => openSecret(s, other), (e: Error) => e instanceof SecretKeyError && e.message.includes(key.id) && e.message.includes(other.id))
    const moved: Secret = { ...s, metadata: { ...s.metadata, name: 'elsewhere' } }
    assert.throws(() => openSecret(moved, key), /does not authenticate for secret\/default\/elsewhere/)
  })

  it('admission takes a sealed Secret under its own key and refuses plaintext data', () => {
    const s = sealed(plain('db', { password: 'x' }))
    assert.equal(checkStoreValue('secret/default/db', 'put', s), undefined)
    assert.match(checkStoreValue('secret/default/other', 'put', s) ?? '', /stored under/)
    assert.match(checkStoreValue('secret/default/db', 'put', { ...s, data: { password: 'eA==' } }) ?? '', /invalid Secret/)
    assert.equal(checkStoreValue('secret/default/db', 'delete', undefined), undefined)
  })

  it('a pod gets a Secret in env and in files kept in memory, and one this host cannot open holds it back', () => {
    const s = sealed(plain('db', { password: 'pw', user: 'u' }))
    const d = ds({
      volumes: [{ name: 'creds', secret: { secretName: 'db', items: [{ key: 'password', path: 'pw.txt' }], defaultMode: 0o400 } }],
      containers: [{ name: 'c', image: 'i:1', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }], envFrom: [{ secretRef: { name: 'db' }, prefix: 'DB_' }], volumeMounts: [{ name: 'creds', mountPath: '/creds' }] }],
    })
    const plan = podPlan(d, node('n1'), storeObjects(store(s), key))
    assert.deepEqual(plan.missing, [])
    assert.deepEqual(plan.containers[0]?.create.Env.filter((e) => /^(PW|DB_)/.test(e)).sort(), ['DB_password=pw', 'DB_user=u', 'PW=pw'])
    const v = plan.volumes[0]
    assert.ok(v?.kind === 'files' && v.dir.startsWith(MEMORY_DIR))
    assert.deepEqual(v.kind === 'files' ? v.files.map((f) => [f.path, f.content.toString(), f.mode]) : [], [['pw.txt', 'pw', 0o400]])
    assert.deepEqual(podPlan(d, node('n1'), storeObjects(store(s))).missing, ['secret "db" cannot be opened: this host has no secret key (secretKey in the configuration, --secret-key)'])
    assert.match(podPlan(d, node('n1'), storeObjects(store(s), other)).missing[0] ?? '', /^secret "db" cannot be opened: sealed with secret key/)
    assert.deepEqual(podPlan(d, node('n1'), storeObjects(store())).missing, ['secret "db" not found'])
    assert.deepEqual([...secretsUsedBy(d)], ['db'])
  })

  it('imagePullSecrets reach the pull of a matching registry only', () => {
    const config = JSON.stringify({ auths: { 'http://localhost:5000': { auth: Buffer.from('ci:pw').toString('base64') } } })
    const s = sealed(plain('reg', { '.dockerconfigjson': config }, 'kubernetes.io/dockerconfigjson'))
    const d = ds({ imagePullSecrets: [{ name: 'reg' }], containers: [{ name: 'a', image: 'localhost:5000/x/app:1' }, { name: 'b', image: 'busybox:1' }] })
    const plan = podPlan(d, node('n1'), storeObjects(store(s), key))
    assert.deepEqual(plan.containers.map((c) => c.pullAuth), [{ serveraddress: 'localhost:5000', username: 'ci', password: 'pw' }, undefined])
  })

  it('registryOf and pullAuthFor read references and auths keys as Docker does', () => {
    assert.deepEqual(registryOf('busybox'), { host: 'docker.io', path: 'library/busybox' })
    assert.deepEqual(registryOf('127.0.0.1:5000/a/b:1'), { host: '127.0.0.1:5000', path: 'a/b' })
    const hub = Buffer.from(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { username: 'u', password: 'p' } } }))
    assert.equal(pullAuthFor('fluent/fluent-bit:2', [hub])?.serveraddress, 'https://index.docker.io/v1/')
    const paths = Buffer.from(JSON.stringify({ auths: { 'reg.example.com': { username: 'any', password: '1' }, 'reg.example.com/team': { username: 'team', password: '2' } } }))
    assert.equal(pullAuthFor('reg.example.com/team/app:1', [paths])?.username, 'team')
    assert.equal(pullAuthFor('reg.example.com/teams/app:1', [paths])?.username, 'any')
    assert.equal(pullAuthFor('other.example.com/team/app:1', [paths]), undefined)
  })
})
