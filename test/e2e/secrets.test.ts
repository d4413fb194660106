// A fluent-bit-shaped bundle (ServiceAccount, ConfigMap, Secret, DaemonSet in one file)
// applied with the real CLI to hosts in network namespaces (each with its own dockerd): on
// every host the container reads its config file, and the Secret reaches its env and files.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSecretKey } from '../../core/secret-box.js'
import { waitFor } from '../helpers/cluster.js'
import { TEST_IMAGE, docker, managed, requireDocker } from '../helpers/docker.js'
import { Fleet, cli } from '../helpers/hosts.js'
import { requireHostTools } from '../helpers/netns.js'
import { surfaceFailures } from '../helpers/failures.js'

const skip = (await requireHostTools()) ?? (await requireDocker())

describe('a bundle with a ConfigMap and a Secret across hosts', { skip }, () => {
  const fleet = new Fleet(173)
  const shm = `/dev/shm/sc-e2e-${process.pid}`
  const PASS = `sc-e2e-${randomBytes(8).toString('hex')}`
  let secretKey = ''

  before(async () => {
    await fleet.up()
    secretKey = join(fleet.cluster.root, 'secret.key')
    await writeFile(secretKey, generateSecretKey(), { mode: 0o600 })
    for (const name of ['sc-h1', 'sc-h2']) await fleet.addHost(name, { extra: ['--secret-key', secretKey, '--secrets-dir', join(shm, name)] })
    await waitFor('2 alive', async () => (await Promise.all(fleet.hosts.map(async (h) => (await h.agent.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 2), 30_000)
  })

  after(async () => {
    await fleet.destroy()
    await rm(shm, { recursive: true, force: true })
  })

  it('applies through the CLI; every host runs the daemon with its config file and its Secret', async () => {
    const bundle = join(fleet.cluster.root, 'fluent-bit.yaml')
    await writeFile(bundle, `apiVersion: v1
kind: ServiceAccount
metadata: {name: fluent-bit, namespace: logging}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fluent-bit, namespace: logging}
data:
  fluent-bit.conf: |
    [OUTPUT]
        Name http
        HTTP_User fluent
---
apiVersion: v1
kind: Secret
metadata: {name: fluent-bit-auth, namespace: logging}
stringData: {HTTP_PASSWD: ${PASS}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: fluent-bit, namespace: logging}
spec:
  selector: {matchLabels: {app: fluent-bit}}
  template:
    metadata: {labels: {app: fluent-bit}}
    spec:
      serviceAccountName: fluent-bit
      terminationGracePeriodSeconds: 1
      volumes:
      - {name: config, configMap: {name: fluent-bit}}
      - {name: auth, secret: {secretName: fluent-bit-auth}}
      containers:
      - name: fluent-bit
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        env: [{name: HTTP_PASSWD, valueFrom: {secretKeyRef: {name: fluent-bit-auth, key: HTTP_PASSWD}}}]
        volumeMounts: [{name: config, mountPath: /fluent-bit/etc}, {name: auth, mountPath: /auth}]
`)
    const agent = fleet.hosts[0]?.agent
    assert.ok(agent)
    const r = await cli('apply', '-f', bundle, '--agent', agent.target.address, '--key', fleet.cluster.operatorKeyFile, '--secret-key', secretKey)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'serviceaccount/fluent-bit skipped: not used by daemonmesh\nconfigmap/fluent-bit created\nsecret/fluent-bit-auth created\ndaemonset.apps/fluent-bit created\n')
    for (const h of fleet.hosts) {
      const id = await waitFor(`fluent-bit running on ${h.agent.name}`, async () => (await managed(h.docker)).find((c) => c.daemonSet === 'logging.fluent-bit' && c.state === 'running')?.id, 90_000, 250)
      assert.match(await docker(h.docker, 'exec', id, 'cat', '/fluent-bit/etc/fluent-bit.conf'), /HTTP_User fluent/)
      assert.equal(await docker(h.docker, 'exec', id, 'cat', '/auth/HTTP_PASSWD'), PASS)
      assert.ok((await docker(h.docker, 'exec', id, 'env')).split('\n').includes(`HTTP_PASSWD=${PASS}`))
    }
  })

  surfaceFailures()
})
