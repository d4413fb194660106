// Secrets on real agents and this machine's dockerd: a Secret applied through the CLI reaches
// a container's env and files (on a tmpfs), an edit reaches the files without a restart,
// a host without the secret key runs nothing that needs it and says why, and the plaintext
// is found nowhere under any agent's data directory (level files included) nor in its log.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSecretKey } from '../../core/secret-box.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'

const HOST = 'unix:///var/run/docker.sock'
const skip = await requireDocker(HOST)

/** files lists every regular file under `dir`, recursively. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await files(p)))
    else if (e.isFile()) out.push(p)
  }
  return out
}

describe('Secrets on real agents', { skip }, () => {
  let cluster: TestCluster
  let keyed: TestAgent[]
  let keyless: TestAgent
  const names = ['sc-1', 'sc-2', 'sc-3']
  const shm = `/dev/shm/sc-${randomBytes(4).toString('hex')}`
  // The plaintext the test hunts for: unique, and long enough never to occur by chance.
  const PLAIN = `sc-plain-${randomBytes(12).toString('hex')}`
  const EDITED = `sc-edited-${randomBytes(12).toString('hex')}`
  let secretKeyFile: string

  const cli = async (...args: string[]) => runCli(...args, '--agent', keyed[0]?.target.address ?? '')
  const apply = async (text: string) => {
    const f = join(cluster.root, `m-${Math.random()}.yaml`)
    await writeFile(f, text)
    const r = await cli('apply', '-f', f, '--key', cluster.operatorKeyFile, '--secret-key', secretKeyFile)
    assert.equal(r.code, 0, r.stderr)
    return r
  }
  const secret = (value: string) => `apiVersion: v1
kind: Secret
metadata: {name: sc-db}
type: Opaque
stringData: {password: ${value}}
data: {user: ${Buffer.from('app').toString('base64')}}
`
  const bundle = (value: string) => `${secret(value)}---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: sc-app}
spec:
  selector: {matchLabels: {app: sc-app}}
  template:
    metadata: {labels: {app: sc-app}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
      - {name: creds, secret: {secretName: sc-db, defaultMode: 0400}}
      - name: both
        projected:
          sources:
          - secret: {name: sc-db, items: [{key: password, path: pw}]}
          - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        env:
        - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: sc-db, key: password}}}
        envFrom: [{secretRef: {name: sc-db}, prefix: S_}]
        volumeMounts: [{name: creds, mountPath: /creds}, {name: both, mountPath: /both}]
`
  const mainOf = async (node: string): Promise<string | undefined> => (await managed(HOST, [node])).find((r) => r.daemonSet === 'default.sc-app' && r.state === 'running')?.id

  before(async () => {
    await buildTestImage(HOST)
    await removeManaged(HOST, names)
    cluster = await TestCluster.create('sc', 3000)
    secretKeyFile = join(cluster.root, 'secret.key')
    await writeFile(secretKeyFile, generateSecretKey(), { mode: 0o600 })
    const withKey = (n: string) => ['--secret-key', secretKeyFile, '--secrets-dir', join(shm, n)]
    const a1 = await cluster.agent({ name: 'sc-1', docker: HOST, extra: withKey('sc-1') }).start()
    const bootstrap = [await a1.address()]
    const a2 = await cluster.agent({ name: 'sc-2', docker: HOST, bootstrap, extra: withKey('sc-2') }).start()
    keyed = [a1, a2]
    keyless = await cluster.agent({ name: 'sc-3', docker: HOST, bootstrap, extra: ['--secret-key', 'none', '--secrets-dir', join(shm, 'sc-3')] }).start()
    await waitFor('3 alive', async () => (await a1.nodes()).filter((n) => n.status.state === 'Alive').length === 3, 20_000)
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, names)
    await rm(shm, { recursive: true, force: true })
  })

  it('a Secret reaches env and files on tmpfs on hosts with the key; a host without it runs nothing and says why', async () => {
    const r = await apply(bundle(PLAIN))
    assert.match(r.stdout, /^secret\/sc-db created\ndaemonset.apps\/sc-app created\n$/)
    for (const a of keyed) {
      const id = await waitFor(`sc-app running on ${a.name}`, () => mainOf(a.name), 60_000)
      const env = (await docker(HOST, 'exec', id, 'env')).split('\n')
      for (const want of [`DB_PASSWORD=${PLAIN}`, `S_password=${PLAIN}`, 'S_user=app']) assert.ok(env.includes(want), `${a.name}: ${want}`)
      assert.equal(await docker(HOST, 'exec', id, 'cat', '/creds/password'), PLAIN)
      assert.equal(await docker(HOST, 'exec', id, 'cat', '/both/pw'), PLAIN)
      assert.equal(await docker(HOST, 'exec', id, 'cat', '/both/name'), `sc-app-${a.name}`)
      assert.match(await docker(HOST, 'exec', id, 'ls', '-lL', '/creds/password'), /^-r-------- /)
      const mounts = (JSON.parse(await docker(HOST, 'inspect', id)) as [{ Mounts: { Source: string; Destination: string }[] }])[0].Mounts
      for (const dest of ['/creds', '/both']) assert.ok(mounts.find((m) => m.Destination === dest)?.Source.startsWith(join(shm, a.name)), `${dest} is mounted from the tmpfs`)
    }
    const d = await waitFor('sc-3 says why', async () => {
      const out = (await runCli('describe', 'ds', 'sc-app', '--agent', keyless.target.address)).stdout
      return /sc-3 .*secret "sc-db" cannot be opened: this host has no secret key/.test(out) ? out : undefined
    }, 30_000)
    assert.ok(d)
    assert.equal((await managed(HOST, ['sc-3'])).length, 0, 'nothing runs on the host without the key')

    const described = await cli('describe', 'secret', 'sc-db')
    assert.equal(described.code, 0, described.stderr)
    assert.match(described.stdout, /Type:  Opaque\n\nData\n====\npassword:  \d+ bytes\nuser:  3 bytes\n/)
    assert.match(described.stdout, /Used by:\s+daemonset.apps\/sc-app/)
    const listed = await cli('get', 'secrets')
    assert.match(listed.stdout, /^NAME\s+TYPE\s+DATA\s+AGE\nsc-db\s+Opaque\s+2\s+/)
    for (const out of [described.stdout, listed.stdout, (await cli('get', 'secret', 'sc-db', '-o', 'yaml')).stdout]) assert.ok(!out.includes(PLAIN))
  })

  it('an edited Secret reaches mounted files without a restart; env keeps its value', async () => {
    const before = await Promise.all(keyed.map((a) => mainOf(a.name)))
    const r = await apply(secret(EDITED))
    assert.match(r.stdout, /^secret\/sc-db configured\n$/)
    for (const [i, a] of keyed.entries()) {
      const id = before[i] ?? ''
      await waitFor(`${a.name} sees the edit`, async () => (await docker(HOST, 'exec', id, 'cat', '/creds/password')) === EDITED, 60_000, 500)
      assert.equal(await docker(HOST, 'exec', id, 'cat', '/both/pw'), EDITED)
      assert.ok((await docker(HOST, 'exec', id, 'env')).split('\n').includes(`DB_PASSWORD=${PLAIN}`), 'env changes only with a new pod')
      assert.equal(await mainOf(a.name), id, 'the same container')
    }
    assert.equal((await apply(secret(EDITED))).stdout, 'secret/sc-db unchanged\n')
  })

  it('the plaintext is nowhere under any agent\'s data directory, level files included, nor in the logs', async () => {
    const needles = [PLAIN, EDITED].flatMap((p) => [Buffer.from(p), Buffer.from(Buffer.from(p).toString('base64').slice(0, 24))])
    let scanned = 0
    for (const a of [...keyed, keyless]) {
      const all = await files(a.dir)
      assert.ok(all.some((f) => f.includes(`${a.name}/store/`)), `${a.name}'s level store is scanned`)
      assert.ok(all.some((f) => f.endsWith('agent.log')))
      for (const f of all) {
        const bytes = await readFile(f)
        for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${f} holds a Secret's plaintext`)
        scanned++
      }
    }
    assert.ok(scanned > 10)
    // The Secret's files live on the tmpfs only, and go with the pod.
    assert.equal((await stat(join(shm, 'sc-1'))).isDirectory(), true)
    const d = await cli('delete', 'ds', 'sc-app', '--key', cluster.operatorKeyFile)
    assert.equal(d.code, 0, d.stderr)
    for (const n of ['sc-1', 'sc-2']) await waitFor(`${n}'s Secret files removed`, async () => (await files(join(shm, n))).length === 0, 30_000)
    assert.equal((await cli('delete', 'secret', 'sc-db', '--key', cluster.operatorKeyFile)).stdout, 'secret "sc-db" deleted\n')
  })
})
